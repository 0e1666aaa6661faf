package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVisitsAndMetrics: two visits with one cookie jar, then a scrape that
// shows the session written twice and read once from its cookie.
func TestVisitsAndMetrics(t *testing.T) {
	h, err := newHandler([][]byte{[]byte("metricsexample-secret-0123456789abcdef")})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	get := func(path string) string {
		resp, err := c.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body)
	}
	assert.Equal(t, "1\n", get("/"))
	assert.Equal(t, "2\n", get("/"))
	metrics := get("/metrics")
	assert.Contains(t, metrics, `cookiesession_session_writes_total{cookie_name="session",otel_scope_name="example.com/visits",otel_scope_schema_url="",otel_scope_version="",outcome="written"} 2`)
	assert.Regexp(t, `cookiesession_session_reads_total\{cookie_name="session",[^}]*outcome="verified"[^}]*\} 1`, metrics)
}
