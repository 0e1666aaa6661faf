package cookiesession

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	assert.Contains(t, logs.String(), "session changed after the response header was written")
	assert.Contains(t, logs.String(), "the connection was hijacked", "cookies the upgrader does not send")

	// Done as documented, with SaveHeader's lines in the upgrade response,
	// nothing is lost and nothing is logged.
	logs.Reset()
	srv2 := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		s.Set("user", 3)
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		conn, rw, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nSet-Cookie: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", lines[0])
		require.NoError(t, rw.Flush())
	})))
	defer srv2.Close()
	resp, err = srv2.Client().Get(srv2.URL)
	require.NoError(t, err)
	resp.Body.Close()
	v, _ = Value[int](m.LoadHeader("session="+resp.Cookies()[0].Value), "user")
	assert.Equal(t, 3, v)
	assert.Empty(t, logs.String())

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

// TestHandlerAnswersItsOwnSaveError: a handler that calls Save itself and
// answers its error (413 for a session too large) keeps its response; the
// middleware does not replace it with ErrorHandler's 500. Once the
// handler changes the session again, the middleware saves as usual.
func TestHandlerAnswersItsOwnSaveError(t *testing.T) {
	var handled []error
	m, _ := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
		handled = append(handled, err)
		w.WriteHeader(http.StatusInternalServerError)
	}})
	tooLarge := func(w http.ResponseWriter, s *Session) {
		s.Set("blob", randomText(5000))
		if err := m.Save(w, s); errors.Is(err, ErrTooLarge) {
			http.Error(w, "your basket is full", http.StatusRequestEntityTooLarge)
		}
	}
	resp := serve(m, "", tooLarge)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "your basket is full\n", string(body))
	assert.Empty(t, resp.Cookies())
	assert.Empty(t, handled, "ErrorHandler is not called for an error the handler has")

	// The handler repairs the session after the failed Save.
	resp = serve(m, "", func(w http.ResponseWriter, s *Session) {
		s.Set("blob", randomText(5000))
		require.ErrorIs(t, m.Save(w, s), ErrTooLarge)
		s.Set("blob", "small")
		w.WriteHeader(http.StatusAccepted)
	})
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, []string{"session"}, written(resp))

	// A change after the failed Save that fails again is the middleware's.
	resp = serve(m, "", func(w http.ResponseWriter, s *Session) {
		s.Set("blob", randomText(5000))
		require.ErrorIs(t, m.Save(w, s), ErrTooLarge)
		s.Set("more", randomText(5000))
		w.WriteHeader(http.StatusAccepted)
	})
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Len(t, handled, 1)
}
