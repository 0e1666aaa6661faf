package otelmetrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

var (
	secretA = []byte("otelmetrics-test-secret-A-0123456789abcdef")
	secretB = []byte("otelmetrics-test-secret-B-0123456789abcdef")
)

// scripted runs a fixed set of requests through a Manager of secrets B
// and A: one cookie sealed with A (verified by the second secret and
// re-issued), one verified by none, one session too large, and a read of
// a new session.
func scripted(t *testing.T) *cookiesession.Manager {
	t.Helper()
	old, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{secretA}})
	require.NoError(t, err)
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{secretB, secretA}, RefusalSummary: -1})
	require.NoError(t, err)
	s := old.LoadHeader()
	s.Set("user", "ada")
	lines, err := old.SaveHeader(s)
	require.NoError(t, err)
	byA := strings.SplitN(lines[0], ";", 2)[0]

	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if r.URL.Path == "/big" {
			s.Set("blob", strings.Repeat("x", 10000))
		}
		s.IsNew()
	}))
	for _, tc := range []struct{ path, cookie string }{
		{"/", byA},
		{"/", "session=" + strings.Repeat("A", 40)},
		{"/big", ""},
		{"/", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	return m
}

// TestRegisterWithTheSDK: the counts, collected by the real SDK.
func TestRegisterWithTheSDK(t *testing.T) {
	m := scripted(t)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	reg, err := Register(provider.Meter("github.com/cookiesession/cookiesession"), m, "session")
	require.NoError(t, err)
	defer reg.Unregister()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{} // "name outcome reason index" -> value
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			sum, ok := md.Data.(metricdata.Sum[int64])
			require.True(t, ok, md.Name)
			assert.True(t, sum.IsMonotonic, md.Name)
			for _, dp := range sum.DataPoints {
				key := md.Name
				for _, k := range []string{"outcome", "reason", "secret.fingerprint", "size.le"} {
					if v, ok := dp.Attributes.Value(attribute.Key(k)); ok {
						key += " " + k + "=" + v.String()
					}
				}
				name, _ := dp.Attributes.Value("cookie.name")
				assert.Equal(t, "session", name.AsString())
				got[key] = dp.Value
			}
		}
	}
	assert.Equal(t, int64(1), got["cookiesession.session.reads outcome=verified secret.fingerprint="+cookiesession.SecretFingerprint(secretA)], "the cookie sealed with A")
	assert.Equal(t, int64(0), got["cookiesession.session.reads outcome=verified secret.fingerprint="+cookiesession.SecretFingerprint(secretB)])
	assert.Equal(t, int64(1), got["cookiesession.session.reads outcome=refused reason=not_verified"])
	assert.Equal(t, int64(2), got["cookiesession.session.reads outcome=no_cookie"])
	assert.Equal(t, int64(1), got["cookiesession.session.writes outcome=too_large"])
	assert.Equal(t, int64(1), got["cookiesession.session.writes outcome=written"], "A's cookie re-issued with B")
	assert.Equal(t, int64(1), got["cookiesession.session.writes outcome=deleted"], "the refused cookie")
	assert.Equal(t, int64(1), got["cookiesession.cookies.written"])
	assert.Equal(t, int64(1), got["cookiesession.cookie.size size.le=1024"])
	assert.Equal(t, int64(1), got["cookiesession.cookie.size size.le=4096"], "cumulative")
	assert.Equal(t, int64(1), got["cookiesession.cookie.size size.le=+Inf"])
	assert.Equal(t, int64(2), got["cookiesession.header.size size.le=+Inf"], "the two requests with a cookie")
}

// TestPrometheusExporter: scraped over HTTP through OpenTelemetry's
// Prometheus exporter, the exposition carries the series.
func TestPrometheusExporter(t *testing.T) {
	m := scripted(t)
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	require.NoError(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer provider.Shutdown(context.Background())
	_, err = Register(provider.Meter("github.com/cookiesession/cookiesession"), m, "session")
	require.NoError(t, err)

	text := scrape(t, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	for _, want := range []string{
		`cookiesession_session_reads_total{cookie_name="session",outcome="refused",reason="not_verified"} 1`,
		`cookiesession_session_reads_total{cookie_name="session",outcome="verified",secret_fingerprint="` + cookiesession.SecretFingerprint(secretA) + `"} 1`,
		`cookiesession_session_writes_total{cookie_name="session",outcome="too_large"} 1`,
		`cookiesession_cookies_written_total{cookie_name="session"} 1`,
	} {
		assert.Contains(t, text, want)
	}
}

// scrape fetches h's exposition over HTTP, as Prometheus does.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// TestSizeHelpNamesTheBoundsSeries: the size instruments' help text names
// the bounds the series carry ("+Inf" for the last bucket), and every
// bound a series carries is a byte count or that one.
func TestSizeHelpNamesTheBoundsSeries(t *testing.T) {
	m := scripted(t)
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	require.NoError(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer provider.Shutdown(context.Background())
	_, err = Register(provider.Meter("github.com/cookiesession/cookiesession"), m, "session")
	require.NoError(t, err)

	text := scrape(t, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	boundRe := regexp.MustCompile(`size_le="([^"]*)"`)
	for _, family := range []string{"cookiesession_cookie_size_total", "cookiesession_header_size_total"} {
		help, bounds := "", map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			if h, ok := strings.CutPrefix(line, "# HELP "+family+" "); ok {
				help = h
			}
			if strings.HasPrefix(line, family+"{") {
				bounds[boundRe.FindStringSubmatch(line)[1]] = true
			}
		}
		require.NotEmpty(t, help, family)
		require.True(t, bounds["+Inf"], "%s: the last bucket's series", family)
		for le := range bounds {
			if le != "+Inf" {
				_, err := strconv.Atoi(le)
				assert.NoError(t, err, "%s: bound %q", family, le)
			}
		}
		assert.Contains(t, help, `size.le "+Inf"`, "%s: the help names the last bucket's bound", family)
		assert.NotContains(t, help, "-1", "%s: no series carries -1", family)
	}
}
