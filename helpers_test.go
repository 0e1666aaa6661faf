package cookiesession

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testKey returns a fixed secret of 40 bytes, distinct for each n.
func testKey(n int) []byte {
	return []byte(fmt.Sprintf("test-secret-%02d-%s", n, strings.Repeat("k", 25)))
}

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestManager returns a Manager on a fixed clock, with key 1 unless
// opts names keys.
func newTestManager(t *testing.T, opts Options) (*Manager, *clock) {
	t.Helper()
	if opts.Secrets == nil {
		opts.Secrets = [][]byte{testKey(1)}
	}
	m, err := New(opts)
	require.NoError(t, err)
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	m.now = clk.Now
	return m, clk
}

// serve runs h behind m's middleware for one GET request carrying
// cookieHeader and returns the response.
func serve(m *Manager, cookieHeader string, h func(w http.ResponseWriter, s *Session)) *http.Response {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookieHeader != "" {
		req.Header.Set("Cookie", cookieHeader)
	}
	rec := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, m.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

// browser is a minimal cookie store that applies Set-Cookie the way a
// browser does for one host and path: a Max-Age of 0 deletes.
type browser map[string]*http.Cookie

func (b browser) apply(resp *http.Response) {
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b, c.Name)
		} else {
			b[c.Name] = c
		}
	}
}

func (b browser) header() string {
	names := b.names()
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + b[n].Value
	}
	return strings.Join(parts, "; ")
}

func (b browser) names() []string {
	var names []string
	for n := range b {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// visit serves one request from the browser and stores what it is sent.
func (b browser) visit(m *Manager, h func(w http.ResponseWriter, s *Session)) *http.Response {
	resp := serve(m, b.header(), h)
	b.apply(resp)
	return resp
}

// issue returns the cookies of a session that set builds.
func issue(t *testing.T, m *Manager, set func(s *Session)) browser {
	t.Helper()
	b := browser{}
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { set(s) })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, b, "no cookie was issued")
	return b
}

// deleted returns the names that resp deletes.
func deleted(resp *http.Response) []string {
	var names []string
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

// written returns the names that resp sets to a value.
func written(resp *http.Response) []string {
	var names []string
	for _, c := range resp.Cookies() {
		if c.MaxAge >= 0 {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

// debugLogger returns a logger that writes everything to buf.
func debugLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noop is a handler that never touches the session.
func noop(http.ResponseWriter, *Session) {}

// touch is a handler that reads the session without changing it.
func touch(_ http.ResponseWriter, s *Session) { s.IsNew() }

// counterServer serves, behind m's middleware, a counter kept in the
// session: each request answers the count after it. Closed with the test.
func counterServer(t *testing.T, m *Manager) *httptest.Server {
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		n, _ := Value[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})))
	t.Cleanup(srv.Close)
	return srv
}
