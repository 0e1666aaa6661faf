package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser is a TLS client with a cookie jar that does not follow
// redirects, so each response's Set-Cookie can be checked.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T) *browser {
	h, err := newHandler([][]byte{[]byte("quickstart-key-0001-use-GenerateSecret-instead")})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t, srv, c}
}

func (b *browser) post(path string, form url.Values) *http.Response {
	resp, err := b.c.PostForm(b.srv.URL+path, form)
	require.NoError(b.t, err)
	resp.Body.Close()
	return resp
}

func (b *browser) page() string {
	resp, err := b.c.Get(b.srv.URL + "/")
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// sessionMaxAge returns the Max-Age of the session cookie resp sets.
func sessionMaxAge(t *testing.T, resp *http.Response) int {
	t.Helper()
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "__Host-session", cookies[0].Name)
	return cookies[0].MaxAge
}

func TestQuickStart(t *testing.T) {
	b := newBrowser(t)
	assert.Equal(t, "0 false\n", b.page())

	resp := b.post("/login", nil)
	assert.Equal(t, 0, sessionMaxAge(t, resp), "without remember me: gone when the browser closes")
	assert.Equal(t, "Welcome back!\n42 true\n", b.page())
	assert.Equal(t, "42 true\n", b.page(), "a flash shows once")

	// Logging in again with "remember me" after a login without it: the
	// choice is kept in the session, so it must be set both ways.
	resp = b.post("/login", url.Values{"remember": {"on"}})
	assert.Equal(t, 30*24*3600, sessionMaxAge(t, resp))

	resp = b.post("/logout", nil)
	assert.Equal(t, -1, sessionMaxAge(t, resp), "the cookie is deleted")
	assert.Equal(t, "0 false\n", b.page())
}

// TestCrossOriginPostIsRefused: a form on another site that posts to
// /login (logging the victim into the attacker's account) or /logout is
// refused before the session is touched.
func TestCrossOriginPostIsRefused(t *testing.T) {
	b := newBrowser(t)
	b.post("/login", nil)
	for _, path := range []string{"/login", "/logout"} {
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "https://evil.example")
		resp, err := b.c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.Empty(t, resp.Cookies(), path)
	}
	assert.Equal(t, "Welcome back!\n42 true\n", b.page(), "the session is as it was")
}

func TestWeakSecretsAreRefused(t *testing.T) {
	_, err := newHandler([][]byte{[]byte("hunter2")})
	assert.Error(t, err)
}
