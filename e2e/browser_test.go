// Package e2e tests cookiesession against a real browser: Debian's
// Chromium, driven headless through the DevTools protocol. Browsers decide
// which cookies they keep and drop the rest silently, so the size limit,
// chunk deletion and cookie prefixes are checked where they are enforced.
//
// It is a module of its own so that chromedp stays out of the library's
// go.mod. Run it with: cd e2e && go test ./...
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a fresh profile, or skips the
// test when Chromium is missing (a failure under CI=true).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := cmpOr(os.Getenv("CHROMIUM"), chromiumPath)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium not found at %s (apt-get install chromium)", path)
		}
		t.Skipf("Chromium not found at %s: apt-get install chromium, or set CHROMIUM", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// site is a test server whose session configuration can be swapped between
// requests, as in a deploy that rotates keys.
type site struct {
	t       *testing.T
	handler atomic.Pointer[http.Handler]
	url     string // on localhost, which browsers treat as a secure origin
}

func newSite(t *testing.T, opts cookiesession.Options) *site {
	s := &site{t: t}
	s.use(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return s
}

// use switches the site to a manager built from opts.
func (s *site) use(opts cookiesession.Options) *cookiesession.Manager {
	opts.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		if errors.Is(err, cookiesession.ErrTooLarge) {
			http.Error(w, "too large: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	m, err := cookiesession.New(opts)
	require.NoError(s.t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		sess := m.FromContext(r.Context())
		n, _ := cookiesession.Value[int](sess, "n")
		sess.Set("n", n+1)
		fmt.Fprintf(w, `<p id="out">%d</p>`, n+1)
	})
	mux.HandleFunc("GET /fill", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		m.FromContext(r.Context()).Set("v", strings.Repeat("a", n))
		fmt.Fprintf(w, `<p id="out">stored %d</p>`, n)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		sess := m.FromContext(r.Context())
		v, _ := cookiesession.Value[string](sess, "v")
		fmt.Fprintf(w, `<p id="out">%d new=%v</p>`, len(v), sess.IsNew())
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).Destroy()
		fmt.Fprint(w, `<p id="out">destroyed</p>`)
	})
	// A cookie set without the library, to find the browser's own limit.
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Add("Set-Cookie", "probe="+strings.Repeat("b", n-len("probe"))+"; Path=/")
		fmt.Fprint(w, `<p id="out">raw</p>`)
	})
	var h http.Handler = m.Middleware(mux)
	s.handler.Store(&h)
	return m
}

// visit loads path and returns the text of #out.
func (s *site) visit(ctx context.Context, path string) string {
	s.t.Helper()
	require.NoError(s.t, chromedp.Do(ctx, chromedp.Navigate(s.url+path)), path)
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(s.t, err, path)
	return strings.TrimSpace(out)
}

// cookies returns what the browser stored, read through DevTools.
func cookies(t *testing.T, ctx context.Context) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
	require.NoError(t, err)
	byName := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		byName[c.Name] = c
	}
	return byName
}

func names(cs map[string]*network.Cookie) []string {
	var out []string
	for n := range cs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func testKeys(n ...int) [][]byte {
	keys := make([][]byte, len(n))
	for i, k := range n {
		keys[i] = []byte(fmt.Sprintf("e2e-test-key-%d-0123456789abcdef0123456789", k))
	}
	return keys
}

func TestCounterSurvivesReloads(t *testing.T) {
	ctx := newBrowser(t)
	s := newSite(t, cookiesession.Options{Keys: testKeys(1)})
	for i := 1; i <= 5; i++ {
		assert.Equal(t, strconv.Itoa(i), s.visit(ctx, "/count"))
	}
	stored := cookies(t, ctx)
	require.Equal(t, []string{"session"}, names(stored), "exactly one session cookie")
	c := stored["session"]
	assert.True(t, c.HTTPOnly)
	assert.True(t, c.Secure, "Secure cookies are accepted from localhost")
	assert.Equal(t, network.CookieSameSiteLax, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.False(t, c.Session, "persistent: it has a Max-Age")
}

// TestLargestCookie stores the largest session the package allows in one
// cookie and checks that Chromium keeps it, and that one byte more is
// refused by the package rather than dropped by the browser.
func TestLargestCookie(t *testing.T) {
	ctx := newBrowser(t)
	opts := cookiesession.Options{Keys: testKeys(1)}
	s := newSite(t, opts)

	// Chromium's own limit: name and value up to 4096 bytes.
	s.visit(ctx, "/raw?n=4096")
	assert.Contains(t, names(cookies(t, ctx)), "probe", "Chromium keeps 4096 bytes of name and value")
	s.visit(ctx, "/raw?n=4097")
	assert.Equal(t, 4096, int(cookies(t, ctx)["probe"].Size), "and silently ignores 4097")

	// The largest value the package writes, found with the package itself.
	m, err := cookiesession.New(opts)
	require.NoError(t, err)
	fits := func(n int) bool {
		sess := m.LoadHeader()
		sess.Set("v", strings.Repeat("a", n))
		_, err := m.SaveHeader(sess)
		return err == nil
	}
	lo, hi := 0, 4096
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	assert.Equal(t, fmt.Sprintf("stored %d", lo), s.visit(ctx, fmt.Sprintf("/fill?n=%d", lo)))
	c := cookies(t, ctx)["session"]
	require.NotNil(t, c, "Chromium kept the largest session cookie")
	assert.Greater(t, int(c.Size), 3900, "the test is at the limit")
	assert.Equal(t, fmt.Sprintf("%d new=false", lo), s.visit(ctx, "/read"))

	assert.Contains(t, s.visit(ctx, fmt.Sprintf("/fill?n=%d", lo+1)), "too large: cookiesession: encoded session is")
	assert.Equal(t, fmt.Sprintf("%d new=false", lo), s.visit(ctx, "/read"), "the previous session is intact")
}

func TestChunksInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := newSite(t, cookiesession.Options{Keys: testKeys(1), MaxChunks: 3})

	s.visit(ctx, "/fill?n=5000")
	assert.Equal(t, []string{"session", "session.1", "session.2"}, names(cookies(t, ctx)))
	assert.Equal(t, "5000 new=false", s.visit(ctx, "/read"))

	s.visit(ctx, "/fill?n=10")
	assert.Equal(t, []string{"session"}, names(cookies(t, ctx)), "shrinking deleted the stale chunks")
	assert.Equal(t, "10 new=false", s.visit(ctx, "/read"))

	s.visit(ctx, "/fill?n=5000")
	require.Len(t, cookies(t, ctx), 3)
	s.visit(ctx, "/destroy")
	assert.Empty(t, cookies(t, ctx), "destroy deleted every chunk")
}

func TestKeyRotationInTheBrowser(t *testing.T) {
	ctx := newBrowser(t)
	s := newSite(t, cookiesession.Options{Keys: testKeys(1)}) // key A
	assert.Equal(t, "1", s.visit(ctx, "/count"))
	underA := cookies(t, ctx)["session"].Value

	s.use(cookiesession.Options{Keys: testKeys(2, 1)}) // [B, A]
	assert.Equal(t, "2", s.visit(ctx, "/count"))
	reissued := cookies(t, ctx)["session"].Value
	assert.NotEqual(t, underA, reissued)

	s.use(cookiesession.Options{Keys: testKeys(2)}) // B alone
	assert.Equal(t, "3", s.visit(ctx, "/count"), "the re-issued cookie verifies with B alone")

	// A cookie still sealed with A alone is not accepted by B: read-only
	// check through the package, since the browser now holds B's cookie.
	m, err := cookiesession.New(cookiesession.Options{Keys: testKeys(2)})
	require.NoError(t, err)
	assert.True(t, m.LoadHeader("session="+underA).IsNew())
}

func TestHostPrefix(t *testing.T) {
	ctx := newBrowser(t)
	s := newSite(t, cookiesession.Options{Keys: testKeys(1), Name: "__Host-session"})
	assert.Equal(t, "1", s.visit(ctx, "/count"))
	assert.Equal(t, "2", s.visit(ctx, "/count"))
	c := cookies(t, ctx)["__Host-session"]
	require.NotNil(t, c, "Chromium accepted the __Host- cookie with the defaults")
	assert.True(t, c.Secure)
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, "localhost", c.Domain, "host-only: no Domain attribute")
}

func TestPartitioned(t *testing.T) {
	ctx := newBrowser(t)
	s := newSite(t, cookiesession.Options{Keys: testKeys(1), Partitioned: true})
	assert.Equal(t, "1", s.visit(ctx, "/count"))
	assert.Equal(t, "2", s.visit(ctx, "/count"))
	c := cookies(t, ctx)["session"]
	require.NotNil(t, c)
	require.NotNil(t, c.PartitionKey, "stored as a partitioned cookie")
	assert.Equal(t, "http://localhost", c.PartitionKey.TopLevelSite)
}
