package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsOverHTTP: requests to the application, then a scrape of the
// internal listener as Prometheus makes it, parsed with expfmt: the
// counters and the size histograms (_bucket, _sum, _count) under the
// names promcollector gives them, so the alerting rules read either; the
// rotation status beside them.
func TestMetricsOverHTTP(t *testing.T) {
	public, admin, err := newHandlers([][]byte{[]byte("otelprometheus-test-secret-0123456789abcdef")})
	require.NoError(t, err)
	app, internal := httptest.NewServer(public), httptest.NewServer(admin)
	defer app.Close()
	defer internal.Close()

	cookie, sizes := "", 0
	for range 3 { // one visitor, three visits: each save writes the cookie
		req, err := http.NewRequest(http.MethodGet, app.URL, nil)
		require.NoError(t, err)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		line := resp.Header.Get("Set-Cookie")
		require.NotEmpty(t, line)
		sizes += len(line)
		cookie = strings.SplitN(line, ";", 2)[0]
	}
	forged, err := http.NewRequest(http.MethodGet, app.URL, nil)
	require.NoError(t, err)
	forged.Header.Set("Cookie", "session="+strings.Repeat("A", 40))
	resp, err := http.DefaultClient.Do(forged) // refused: a new session, written
	require.NoError(t, err)
	resp.Body.Close()
	largest := 0
	for _, line := range resp.Header.Values("Set-Cookie") {
		largest = max(largest, len(line))
	}
	sizes += largest

	req, err := http.NewRequest(http.MethodGet, internal.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)

	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		for _, m := range families[name].GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			match := got["cookie_name"] == "session"
			for k, v := range labels {
				match = match && got[k] == v
			}
			if match {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	assert.Equal(t, 2.0, value("cookiesession_session_reads_total", map[string]string{"outcome": "verified"}))
	assert.Equal(t, 1.0, value("cookiesession_session_reads_total", map[string]string{"outcome": "refused", "reason": "not_verified"}))
	assert.Equal(t, 4.0, value("cookiesession_session_writes_total", map[string]string{"outcome": "written"}))
	assert.Equal(t, 0.0, value("cookiesession_secret_index", nil))
	assert.Positive(t, value("cookiesession_signing_since_seconds", nil))

	line := families["cookiesession_cookie_size_bytes"]
	require.NotNil(t, line, "a histogram named as promcollector names it")
	require.Equal(t, dto.MetricType_HISTOGRAM, line.GetType())
	h := line.GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(4), h.GetSampleCount())
	assert.Equal(t, float64(sizes), h.GetSampleSum(), "the sizes written")
	assert.Equal(t, uint64(4), h.GetBucket()[0].GetCumulativeCount(), "all four under 1024 bytes")
	assert.Equal(t, 1024.0, h.GetBucket()[0].GetUpperBound())
	require.Equal(t, dto.MetricType_HISTOGRAM, families["cookiesession_header_size_bytes"].GetType())
	assert.Equal(t, uint64(3), families["cookiesession_header_size_bytes"].GetMetric()[0].GetHistogram().GetSampleCount(), "the three requests with a cookie")

	// Every series the alerting rules query but the pending revocations
	// (a shared list's, see RegisterPending) is here.
	rules, err := os.ReadFile("../../alerts/cookiesession.rules.yml")
	require.NoError(t, err)
	for _, name := range regexp.MustCompile(`cookiesession_[a-z_]+`).FindAllString(string(rules), -1) {
		if name == "cookiesession_revocations_pending" {
			continue
		}
		base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(name, "")
		assert.Contains(t, families, base, "the rules query %s", name)
	}

	status, err := http.Get(internal.URL + "/cookiesession")
	require.NoError(t, err)
	defer status.Body.Close()
	assert.Equal(t, "application/json", status.Header.Get("Content-Type"))
}
