package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testKeys = [][]byte{[]byte("websocket-example-key-0001-use-GenerateSecret-instead")}

// dial opens a WebSocket to srv's path with the jar's cookies and keeps
// those the upgrade response sets.
func dial(t *testing.T, srv *httptest.Server, jar http.CookieJar, path string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Jar: jar}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestUpgradeCarriesTheSession: a real upgrade through gorilla/websocket,
// twice, with a cookie jar. The session changed by each upgrade reaches
// the browser in the 101 response, so the second sees the first's count.
func TestUpgradeCarriesTheSession(t *testing.T) {
	h, err := newHandler(testKeys)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	for want := 1; want <= 2; want++ {
		var got map[string]int
		require.NoError(t, dial(t, srv, jar, "/ws").ReadJSON(&got))
		assert.Equal(t, want, got["connections"])
	}
	u, _ := url.Parse(srv.URL)
	assert.Len(t, jar.Cookies(u), 1)
}

// TestUpgradeWithoutTheSessionIsLogged: an upgrade that does not hand
// the session's lines to the upgrader loses the change, and the
// middleware says so, naming the fix.
func TestUpgradeWithoutTheSessionIsLogged(t *testing.T) {
	var logs bytes.Buffer
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: testKeys, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("connections", 1)
		conn, err := upgrader.Upgrade(w, r, nil)
		require.NoError(t, err)
		conn.Close()
	})))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	dial(t, srv, jar, "/")
	u, _ := url.Parse(srv.URL)
	assert.Empty(t, jar.Cookies(u), "the change is lost")
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "pass the lines of Manager.SaveHeader to the upgrader")
}
