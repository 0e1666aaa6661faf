package otelmetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
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

// collect runs one collection through a manual reader that has m's
// instruments and its producer, as a service's reader would.
func collect(t *testing.T, m *cookiesession.Manager) metricdata.ResourceMetrics {
	t.Helper()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(NewProducer(m)))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	reg, err := Register(provider.Meter("github.com/cookiesession/cookiesession"), m)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	return rm
}

// points returns the counters' and gauges' data points by "name k=v…"
// (attributes outcome, reason, secret.fingerprint), and the histograms by
// name; every point carries the Manager's cookie name.
func points(t *testing.T, rm metricdata.ResourceMetrics, cookie string) (map[string]float64, map[string]metricdata.HistogramDataPoint[int64]) {
	t.Helper()
	got, hists := map[string]float64{}, map[string]metricdata.HistogramDataPoint[int64]{}
	key := func(name string, attrs attribute.Set) string {
		n, _ := attrs.Value("cookie.name")
		assert.Equal(t, cookie, n.AsString(), name)
		for _, k := range []string{"outcome", "reason", "secret.fingerprint"} {
			if v, ok := attrs.Value(attribute.Key(k)); ok {
				name += " " + k + "=" + v.String()
			}
		}
		return name
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch data := md.Data.(type) {
			case metricdata.Sum[int64]:
				assert.True(t, data.IsMonotonic, md.Name)
				assert.Equal(t, metricdata.CumulativeTemporality, data.Temporality, md.Name)
				for _, dp := range data.DataPoints {
					got[key(md.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range data.DataPoints {
					got[key(md.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Gauge[float64]:
				for _, dp := range data.DataPoints {
					got[key(md.Name, dp.Attributes)] = dp.Value
				}
			case metricdata.Histogram[int64]:
				assert.Equal(t, metricdata.CumulativeTemporality, data.Temporality, md.Name)
				require.Len(t, data.DataPoints, 1, md.Name)
				hists[key(md.Name, data.DataPoints[0].Attributes)] = data.DataPoints[0]
			default:
				t.Errorf("%s: unexpected %T", md.Name, md.Data)
			}
		}
	}
	return got, hists
}

// TestRegisterWithTheSDK: the counts, collected by the real SDK: counters
// by outcome, the rotation's gauges, and the sizes as histogram data
// points holding the Manager's own bucket counts and sum.
func TestRegisterWithTheSDK(t *testing.T) {
	m := scripted(t)
	got, hists := points(t, collect(t, m), "session")
	fpA, fpB := cookiesession.SecretFingerprint(secretA), cookiesession.SecretFingerprint(secretB)
	assert.Equal(t, 1.0, got["cookiesession.session.reads outcome=verified secret.fingerprint="+fpA], "the cookie sealed with A")
	assert.Equal(t, 0.0, got["cookiesession.session.reads outcome=verified secret.fingerprint="+fpB])
	assert.Equal(t, 1.0, got["cookiesession.session.reads outcome=refused reason=not_verified"])
	assert.Equal(t, 2.0, got["cookiesession.session.reads outcome=no_cookie"])
	assert.Equal(t, 1.0, got["cookiesession.session.writes outcome=too_large"])
	assert.Equal(t, 1.0, got["cookiesession.session.writes outcome=written"], "A's cookie re-issued with B")
	assert.Equal(t, 1.0, got["cookiesession.session.writes outcome=deleted"], "the refused cookie")
	assert.Equal(t, 1.0, got["cookiesession.cookies.written"])
	assert.Equal(t, 0.0, got["cookiesession.secret.index secret.fingerprint="+fpB])
	assert.Equal(t, 1.0, got["cookiesession.secret.index secret.fingerprint="+fpA])
	assert.InDelta(t, float64(m.Counts().SigningSince.Unix()), got["cookiesession.signing.since"], 1)

	c := m.Counts()
	line := hists["cookiesession.cookie.size"]
	assert.Equal(t, []float64{1024, 2048, 3072, 3584, 3840, 4096}, line.Bounds)
	want := make([]uint64, len(c.CookieLine))
	for i, b := range c.CookieLine {
		want[i] = b.Count
	}
	assert.Equal(t, want, line.BucketCounts, "the Manager's buckets, as they are")
	assert.Equal(t, uint64(1), line.Count, "the one save that wrote")
	assert.Equal(t, int64(c.CookieLineSum), line.Sum)
	assert.Positive(t, line.Sum)
	header := hists["cookiesession.header.size"]
	assert.Equal(t, []float64{1024, 2048, 4096, 6144, 7168, 8192}, header.Bounds)
	assert.Equal(t, uint64(2), header.Count, "the two requests with a cookie")
	assert.Equal(t, int64(c.CookieHeaderSum), header.Sum)
}

// TestRemovedSecretKeepsItsSeries: a secret taken out of force is still
// reported at its last count, with index -1; put back, it continues.
func TestRemovedSecretKeepsItsSeries(t *testing.T) {
	m := scripted(t)
	fpA := cookiesession.SecretFingerprint(secretA)
	require.NoError(t, m.ReplaceSecrets([][]byte{secretB}))
	got, _ := points(t, collect(t, m), "session")
	assert.Equal(t, 1.0, got["cookiesession.session.reads outcome=verified secret.fingerprint="+fpA])
	assert.Equal(t, -1.0, got["cookiesession.secret.index secret.fingerprint="+fpA])
	require.NoError(t, m.ReplaceSecrets([][]byte{secretB, secretA}))
	got, _ = points(t, collect(t, m), "session")
	assert.Equal(t, 1.0, got["cookiesession.session.reads outcome=verified secret.fingerprint="+fpA])
	assert.Equal(t, 1.0, got["cookiesession.secret.index secret.fingerprint="+fpA])
}

// TestRegisterPending: the pending revocations, read at each collection.
func TestRegisterPending(t *testing.T) {
	pending := 2
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	_, err := RegisterPending(provider.Meter("github.com/cookiesession/cookiesession"), func() int { return pending })
	require.NoError(t, err)
	value := func() int64 {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		md := rm.ScopeMetrics[0].Metrics[0]
		require.Equal(t, "cookiesession.revocations.pending", md.Name)
		return md.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
	}
	assert.Equal(t, int64(2), value())
	pending = 0
	assert.Equal(t, int64(0), value())
}

// TestProducerStartsWithTheManager: the histograms' start time is when
// the producer was made, and a collection's time is now.
func TestProducerStartsWithTheManager(t *testing.T) {
	before := time.Now()
	m := scripted(t)
	p := NewProducer(m)
	sms, err := p.Produce(context.Background())
	require.NoError(t, err)
	require.Len(t, sms, 1)
	assert.Equal(t, "github.com/cookiesession/cookiesession/otelmetrics", sms[0].Scope.Name)
	dp := sms[0].Metrics[0].Data.(metricdata.Histogram[int64]).DataPoints[0]
	assert.False(t, dp.StartTime.Before(before))
	assert.False(t, dp.Time.Before(dp.StartTime))
}
