package cookiesession

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHijack: WebSocket libraries that assert http.Hijacker get the
// connection after the session was saved into the header, so the upgrade
// response can carry it; a change after that is logged as lost.
func TestHijack(t *testing.T) {
	var logs bytes.Buffer
	m, _ := newTestManager(t, Options{Logger: debugLogger(&logs)})
	handled := make(chan struct{})
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handled)
		s := m.FromContext(r.Context())
		s.Set("user", 1)
		hj, ok := w.(http.Hijacker)
		require.True(t, ok, "the writer is a Hijacker")
		conn, rw, err := hj.Hijack()
		require.NoError(t, err)
		defer conn.Close()
		cookies := w.Header().Values("Set-Cookie")
		require.Len(t, cookies, 1, "saved before the connection was handed over")
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nSet-Cookie: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", cookies[0])
		require.NoError(t, rw.Flush())
		s.Set("user", 2)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, resp.Cookies(), 1)
	v, _ := Value[int](m.LoadHeader("session="+resp.Cookies()[0].Value), "user")
	assert.Equal(t, 1, v)
	<-handled
	assert.Contains(t, logs.String(), "the change is lost")

	// Where the connection cannot be hijacked, the error says so.
	resp2 := serve(m, "", func(w http.ResponseWriter, _ *Session) {
		_, _, err := w.(http.Hijacker).Hijack()
		assert.ErrorIs(t, err, http.ErrNotSupported)
	})
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
}

// TestFirstUseAfterTheHeaderIsLogged: the response went out without
// Vary: Cookie, so a shared cache may serve it to others. That is logged
// like a late change.
func TestFirstUseAfterTheHeaderIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m, _ := newTestManager(t, Options{Logger: debugLogger(&logs)})
	resp := serve(m, "", func(w http.ResponseWriter, s *Session) {
		_, _ = w.Write([]byte("page"))
		_, _ = Value[int](s, "user")
	})
	assert.Empty(t, resp.Header.Values("Vary"))
	assert.Contains(t, logs.String(), "lacks Vary: Cookie")
}

// TestErrorResponseDropsTheHandlersHeaders: a 500 for a session that could
// not be saved must not carry the redirect, content type, caching headers
// or cookies the handler set for the response it meant to send.
func TestErrorResponseDropsTheHandlersHeaders(t *testing.T) {
	m, _ := newTestManager(t, Options{Logger: debugLogger(&bytes.Buffer{})})
	resp := serve(m, "", func(w http.ResponseWriter, s *Session) {
		s.Set("blob", randomText(5000))
		w.Header().Set("Location", "/next")
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.SetCookie(w, &http.Cookie{Name: "other", Value: "1"})
		w.WriteHeader(http.StatusSeeOther)
	})
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	for _, h := range []string{"Location", "Cache-Control", "Set-Cookie", "Vary"} {
		assert.Empty(t, resp.Header.Values(h), h)
	}
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), resp.Header.Get("Content-Type"))
}
