package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTheSetUp: two visits to the application, then the internal
// listener as Prometheus and an operator read it.
func TestTheSetUp(t *testing.T) {
	public, admin, err := newHandlers([][]byte{[]byte("metricsexample-test-secret-0123456789abcdef")})
	require.NoError(t, err)
	app, internal := httptest.NewServer(public), httptest.NewServer(admin)
	defer app.Close()
	defer internal.Close()
	cookie := ""
	for range 2 {
		req, err := http.NewRequest(http.MethodGet, app.URL, nil)
		require.NoError(t, err)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		cookie = strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	}

	req, err := http.NewRequest(http.MethodGet, internal.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	require.Equal(t, dto.MetricType_HISTOGRAM, families["cookiesession_cookie_size_bytes"].GetType())
	assert.Equal(t, uint64(2), families["cookiesession_cookie_size_bytes"].GetMetric()[0].GetHistogram().GetSampleCount())
	assert.Equal(t, uint64(1), families["cookiesession_header_size_bytes"].GetMetric()[0].GetHistogram().GetSampleCount())

	status, err := http.Get(internal.URL + "/cookiesession")
	require.NoError(t, err)
	defer status.Body.Close()
	var got struct {
		Secrets []struct {
			SafeToRemove bool   `json:"safe_to_remove"`
			Reason       string `json:"reason"`
		} `json:"secrets"`
	}
	require.NoError(t, json.NewDecoder(status.Body).Decode(&got))
	require.Len(t, got.Secrets, 1)
	assert.Equal(t, "the first secret seals every cookie", got.Secrets[0].Reason)

	resp, err = http.Get(app.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "not on the public listener")
}
