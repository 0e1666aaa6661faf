package otelmetrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/otelmetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// countsCollector exposes a Manager's counts to prometheus/client_golang,
// for services that use it without OpenTelemetry: a Collector reads the
// counts at each scrape, so the request path pays nothing more.
type countsCollector struct {
	m              *cookiesession.Manager
	reads, writes  *prometheus.Desc
	cookiesWritten *prometheus.Desc
}

func newCountsCollector(m *cookiesession.Manager, cookie string) *countsCollector {
	labels := prometheus.Labels{"cookie_name": cookie}
	return &countsCollector{
		m: m,
		reads: prometheus.NewDesc("cookiesession_session_reads_total",
			"Sessions used by requests, by how their cookies were read.", []string{"outcome", "reason", "secret_fingerprint"}, labels),
		writes: prometheus.NewDesc("cookiesession_session_writes_total",
			"Saves of sessions, by outcome.", []string{"outcome"}, labels),
		cookiesWritten: prometheus.NewDesc("cookiesession_cookies_written_total",
			"Cookies set by the saves that wrote.", nil, labels),
	}
}

func (c *countsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reads
	ch <- c.writes
	ch <- c.cookiesWritten
}

func (c *countsCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.m.Counts()
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	for _, s := range counts.Secrets {
		counter(c.reads, s.Verified, "verified", "", s.Fingerprint)
	}
	counter(c.reads, counts.Migrated, "migrated", "", "")
	counter(c.reads, counts.NoCookie, "no_cookie", "", "")
	for r, n := range counts.Refused {
		counter(c.reads, n, "refused", r.String(), "")
	}
	for outcome, n := range map[string]uint64{"written": counts.Written, "unchanged": counts.Unchanged,
		"deleted": counts.Deleted, "too_large": counts.TooLarge, "failed": counts.Failed} {
		counter(c.writes, n, outcome)
	}
	counter(c.cookiesWritten, counts.Cookies)
}

// Exposing the counts with prometheus/client_golang alone.
func Example_prometheusClient() {
	sessions, _ := cookiesession.New(cookiesession.Options{
		Secrets:        [][]byte{[]byte("example-only-secret-0001-use-GenerateSecret")},
		RefusalSummary: -1,
	})
	registry := prometheus.NewRegistry()
	registry.MustRegister(newCountsCollector(sessions, "session"))

	// Two requests: one sets a value, one sends a cookie no secret verifies.
	app := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("seen", true)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	forged := httptest.NewRequest(http.MethodGet, "/", nil)
	forged.Header.Set("Cookie", "session="+strings.Repeat("A", 40))
	app.ServeHTTP(httptest.NewRecorder(), forged)

	srv := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "cookiesession_") && !strings.HasSuffix(line, " 0") {
			fmt.Println(line)
		}
	}
	// Output:
	// cookiesession_cookies_written_total{cookie_name="session"} 2
	// cookiesession_session_reads_total{cookie_name="session",outcome="no_cookie",reason="",secret_fingerprint=""} 1
	// cookiesession_session_reads_total{cookie_name="session",outcome="refused",reason="not_verified",secret_fingerprint=""} 1
	// cookiesession_session_writes_total{cookie_name="session",outcome="written"} 2
}

// Register the counts with an OpenTelemetry meter; here a manual reader
// collects them, where a service would use an exporter.
func ExampleRegister() {
	sessions, _ := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{[]byte("example-only-secret-0001-use-GenerateSecret")},
	})
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	if _, err := otelmetrics.Register(provider.Meter("example.com/myservice"), sessions, "session"); err != nil {
		fmt.Println(err)
		return
	}

	app := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("seen", true)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != "cookiesession.cookies.written" {
				continue
			}
			for _, dp := range md.Data.(metricdata.Sum[int64]).DataPoints {
				fmt.Println(md.Name, dp.Value)
			}
		}
	}
	// Output:
	// cookiesession.cookies.written 1
}
