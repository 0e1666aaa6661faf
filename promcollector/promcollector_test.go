package promcollector_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/promcollector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	secretA = []byte("promcollector-test-secret-A-0123456789abcdef")
	secretB = []byte("promcollector-test-secret-B-0123456789abcdef")
)

// scrape fetches the registry's exposition over HTTP in the text format,
// as Prometheus does, and parses it with expfmt.
func scrape(t *testing.T, registry *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// series returns the metrics of family name whose labels include want.
func series(families map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	f := families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// counter returns the value of the one counter of family name with labels.
func counter(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	ms := series(families, name, labels)
	require.Len(t, ms, 1, "%s%v", name, labels)
	return ms[0].GetCounter().GetValue()
}

// app is a Manager's middleware over a handler that stores n bytes when
// asked with ?n=, and only reads the session otherwise.
func app(m *cookiesession.Manager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if n := r.URL.Query().Get("n"); n != "" {
			s.Set("v", strings.Repeat("x", atoi(n)))
		}
		s.IsNew()
	}))
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// request sends one request through h and returns the largest Set-Cookie
// line of its response (0: none) and the session's cookies as a browser
// sends them back.
func request(h http.Handler, target, cookie string) (largest int, cookies string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var pairs []string
	for _, line := range rec.Result().Header.Values("Set-Cookie") {
		largest = max(largest, len(line))
		pairs = append(pairs, strings.SplitN(line, ";", 2)[0])
	}
	return largest, strings.Join(pairs, "; ")
}

// TestScrapeOverHTTP: the counts as a Prometheus server reads them:
// counters by outcome and reason, sizes as histograms with _bucket, _sum
// and _count, the rotation's state by fingerprint; every series labelled
// with the Manager's cookie name.
func TestScrapeOverHTTP(t *testing.T) {
	old, err := cookiesession.New(cookiesession.Options{Name: "sid", Secrets: [][]byte{secretA}})
	require.NoError(t, err)
	m, err := cookiesession.New(cookiesession.Options{Name: "sid", Secrets: [][]byte{secretB, secretA}, RefusalSummary: -1})
	require.NoError(t, err)
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(m))

	s := old.LoadHeader()
	s.Set("user", "ada")
	lines, err := old.SaveHeader(s)
	require.NoError(t, err)
	byA := strings.SplitN(lines[0], ";", 2)[0]
	h := app(m)
	reissued, _ := request(h, "/", byA)             // verified by A, re-issued with B
	request(h, "/", "sid="+strings.Repeat("A", 40)) // verified by none
	request(h, "/?n=10000", "")                     // too large
	written, _ := request(h, "/?n=100", "")         // a new session written
	require.NotZero(t, reissued)

	f := scrape(t, registry)
	for name, f := range f {
		for _, m := range f.GetMetric() {
			assert.Contains(t, m.GetLabel(), &dto.LabelPair{Name: ptr("cookie_name"), Value: ptr("sid")}, name)
		}
	}
	assert.Equal(t, 1.0, counter(t, f, "cookiesession_session_reads_total", map[string]string{"outcome": "verified", "secret_fingerprint": cookiesession.SecretFingerprint(secretA)}))
	assert.Equal(t, 0.0, counter(t, f, "cookiesession_session_reads_total", map[string]string{"outcome": "verified", "secret_fingerprint": cookiesession.SecretFingerprint(secretB)}))
	assert.Equal(t, 1.0, counter(t, f, "cookiesession_session_reads_total", map[string]string{"outcome": "refused", "reason": "not_verified"}))
	assert.Equal(t, 2.0, counter(t, f, "cookiesession_session_reads_total", map[string]string{"outcome": "no_cookie"}))
	assert.Equal(t, 1.0, counter(t, f, "cookiesession_session_writes_total", map[string]string{"outcome": "too_large"}))
	assert.Equal(t, 2.0, counter(t, f, "cookiesession_session_writes_total", map[string]string{"outcome": "written"}))
	assert.Equal(t, 2.0, counter(t, f, "cookiesession_cookies_written_total", nil))

	require.Equal(t, dto.MetricType_HISTOGRAM, f["cookiesession_cookie_size_bytes"].GetType())
	line := f["cookiesession_cookie_size_bytes"].GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(2), line.GetSampleCount())
	assert.Equal(t, float64(reissued+written), line.GetSampleSum(), "the sizes written")
	var bounds []float64
	for _, b := range line.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	assert.Equal(t, []float64{1024, 2048, 3072, 3584, 3840, 4096, math.Inf(1)}, bounds)
	assert.Equal(t, line.GetSampleCount(), line.GetBucket()[len(bounds)-1].GetCumulativeCount(), "+Inf counts all")
	header := f["cookiesession_header_size_bytes"].GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(2), header.GetSampleCount(), "the two requests with a cookie")

	for fp, index := range map[string]float64{cookiesession.SecretFingerprint(secretB): 0, cookiesession.SecretFingerprint(secretA): 1} {
		ms := series(f, "cookiesession_secret_index", map[string]string{"secret_fingerprint": fp})
		require.Len(t, ms, 1)
		assert.Equal(t, index, ms[0].GetGauge().GetValue())
	}
	since := f["cookiesession_signing_since_seconds"].GetMetric()[0].GetGauge().GetValue()
	assert.InDelta(t, float64(m.Counts().SigningSince.Unix()), since, 1)
}

func ptr(s string) *string { return &s }

// quantile is PromQL's histogram_quantile over one histogram: the bucket
// holding rank q·count, interpolated linearly within it; the +Inf bucket
// gives the highest finite bound.
func quantile(q float64, h *dto.Histogram) float64 {
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		if n := float64(b.GetCumulativeCount()); n >= rank {
			if math.IsInf(b.GetUpperBound(), 1) {
				return lower
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(n-below)
		}
		lower, below = b.GetUpperBound(), float64(b.GetCumulativeCount())
	}
	return lower
}

// TestQuantileFromTheBuckets: after a scripted set of saves whose sizes
// are known from the responses, the quantiles a Prometheus user computes
// from the scraped buckets fall in the bucket of the true quantiles of
// the sizes written, and _sum / _count is their mean exactly.
func TestQuantileFromTheBuckets(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{secretA}, RefusalSummary: -1})
	require.NoError(t, err)
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(m))
	h := app(m)
	var sizes []int
	for i := range 40 { // sizes from about 300 to 4000 bytes, more of them small
		n := 100 + (i*i*i)%1900
		largest, _ := request(h, "/?n="+itoa(n), "")
		require.NotZero(t, largest)
		sizes = append(sizes, largest)
	}
	slices.Sort(sizes)
	sum := 0
	for _, s := range sizes {
		sum += s
	}

	got := scrape(t, registry)["cookiesession_cookie_size_bytes"].GetMetric()[0].GetHistogram()
	require.Equal(t, uint64(len(sizes)), got.GetSampleCount())
	assert.Equal(t, float64(sum)/float64(len(sizes)), got.GetSampleSum()/float64(got.GetSampleCount()), "the mean size")
	bounds := []float64{0, 1024, 2048, 3072, 3584, 3840, 4096, math.Inf(1)}
	bucketOf := func(v float64) int {
		i := 1
		for v > bounds[i] {
			i++
		}
		return i
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		truth := float64(sizes[int(math.Ceil(q*float64(len(sizes))))-1])
		estimate := quantile(q, got)
		t.Logf("p%v: written %v bytes, from the buckets %.0f", q*100, truth, estimate)
		assert.Equal(t, bucketOf(truth), bucketOf(estimate), "p%v: %v and %v in one bucket", q*100, truth, estimate)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestRemovedSecretKeepsItsSeries: a secret taken out of force keeps its
// series for the life of the process, at its last value and with index
// -1; put back, it continues from there: no counter ever goes down.
func TestRemovedSecretKeepsItsSeries(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{secretA}, RefusalSummary: -1})
	require.NoError(t, err)
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(m))
	h := app(m)
	_, cookie := request(h, "/?n=10", "")
	request(h, "/", cookie)
	request(h, "/", cookie)
	fpA := map[string]string{"secret_fingerprint": cookiesession.SecretFingerprint(secretA)}
	verifiedA := func(f map[string]*dto.MetricFamily) float64 {
		return counter(t, f, "cookiesession_session_reads_total", map[string]string{"outcome": "verified", "secret_fingerprint": fpA["secret_fingerprint"]})
	}
	index := func(f map[string]*dto.MetricFamily) float64 {
		return series(f, "cookiesession_secret_index", fpA)[0].GetGauge().GetValue()
	}
	f := scrape(t, registry)
	require.Equal(t, 2.0, verifiedA(f))
	require.Equal(t, 0.0, index(f))

	require.NoError(t, m.ReplaceSecrets([][]byte{secretB}))
	f = scrape(t, registry)
	assert.Equal(t, 2.0, verifiedA(f), "the removed secret's count stays")
	assert.Equal(t, -1.0, index(f), "removed")

	require.NoError(t, m.ReplaceSecrets([][]byte{secretB, secretA}))
	request(h, "/", cookie)
	f = scrape(t, registry)
	assert.Equal(t, 3.0, verifiedA(f), "put back, it continues")
	assert.Equal(t, 1.0, index(f))
}

// TestPendingGauge: the shared list's pending revocations, read at each
// scrape.
func TestPendingGauge(t *testing.T) {
	pending := 3
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.NewPending(func() int { return pending }))
	assert.Equal(t, 3.0, scrape(t, registry)["cookiesession_revocations_pending"].GetMetric()[0].GetGauge().GetValue())
	pending = 0
	assert.Equal(t, 0.0, scrape(t, registry)["cookiesession_revocations_pending"].GetMetric()[0].GetGauge().GetValue())
}

// TestTheAlertingRulesReadTheseSeries: every series the repository's
// alerting rules query is one this module exports.
func TestTheAlertingRulesReadTheseSeries(t *testing.T) {
	rules, err := os.ReadFile("../alerts/cookiesession.rules.yml")
	require.NoError(t, err)
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{secretA}, RefusalSummary: -1})
	require.NoError(t, err)
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(m), promcollector.NewPending(func() int { return 0 }))
	f := scrape(t, registry)
	names := regexp.MustCompile(`cookiesession_[a-z_]+`).FindAllString(string(rules), -1)
	require.NotEmpty(t, names)
	for _, name := range names {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && f[b].GetType() == dto.MetricType_HISTOGRAM {
				base = b
			}
		}
		assert.Contains(t, f, base, "the rules query %s", name)
	}
}
