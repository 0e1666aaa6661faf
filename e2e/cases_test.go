package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pages are the test site's handlers, all answering with plain text.
func pages(m *cookiesession.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		sess := m.FromContext(r.Context())
		n, _ := cookiesession.Value[int](sess, "n")
		sess.Set("n", n+1)
		fmt.Fprintf(w, "%d", n+1)
	})
	mux.HandleFunc("GET /fill", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		m.FromContext(r.Context()).Set("v", strings.Repeat("a", n))
		fmt.Fprintf(w, "stored %d", n)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		sess := m.FromContext(r.Context())
		v, _ := cookiesession.Value[string](sess, "v")
		fmt.Fprintf(w, "%d new=%v", len(v), sess.IsNew())
	})
	mux.HandleFunc("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).Destroy()
		fmt.Fprint(w, "destroyed")
	})
	// Cookies set without the library, to find the engine's own rules.
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Add("Set-Cookie", "probe="+strings.Repeat("b", n-len("probe"))+"; Path=/")
		fmt.Fprint(w, "raw")
	})
	mux.HandleFunc("GET /raw-host", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "__Host-probe=1; Path=/") // no Secure
		fmt.Fprint(w, "raw")
	})
	return mux
}

func testKeys(n ...int) [][]byte {
	keys := make([][]byte, len(n))
	for i, k := range n {
		keys[i] = []byte(fmt.Sprintf("e2e-test-key-%d-0123456789abcdef0123456789", k))
	}
	return keys
}

func TestCounterSurvivesReloads(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newSite(t, b, cookiesession.Options{Secrets: testKeys(1)})
		for i := 1; i <= 5; i++ {
			assert.Equal(t, strconv.Itoa(i), s.visit("/count"))
		}
		stored := s.cookies()
		require.Equal(t, []string{"session"}, names(stored), "exactly one session cookie")
		c := stored["session"]
		assert.True(t, c.HTTPOnly)
		assert.True(t, c.Secure)
		assert.Equal(t, "Lax", c.SameSite)
		assert.Equal(t, "/", c.Path)
		assert.False(t, c.Session, "persistent: it has a Max-Age")
		script, err := b.eval("document.cookie")
		require.NoError(t, err)
		assert.Empty(t, script, "HttpOnly keeps the session from page scripts")
	})
}

// TestCounterOverPlainHTTP: the defaults on http://localhost. Chromium and
// Firefox keep a Secure cookie there; WebKit does not, so each request is a
// new session until Insecure drops the attribute.
func TestCounterOverPlainHTTP(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newPlainSite(t, b, cookiesession.Options{Secrets: testKeys(1)})
		counts := []string{s.visit("/count"), s.visit("/count"), s.visit("/count")}
		if e.secureOnHTTPLocalhost {
			assert.Equal(t, []string{"1", "2", "3"}, counts)
			assert.Equal(t, []string{"session"}, names(s.cookies()))
			return
		}
		assert.Equal(t, []string{"1", "1", "1"}, counts, "the Secure cookie was dropped: every request is new")
		assert.Empty(t, s.cookies())

		s.use(cookiesession.Options{Secrets: testKeys(1), Insecure: true})
		counts = []string{s.visit("/count"), s.visit("/count"), s.visit("/count")}
		assert.Equal(t, []string{"1", "2", "3"}, counts, "Insecure works on plain-HTTP localhost")
		assert.False(t, s.cookies()["session"].Secure)
	})
}

// TestLargestCookie stores the largest session the package allows in one
// cookie and checks that the engine keeps it, and that one byte more is
// refused by the package rather than dropped by the browser.
func TestLargestCookie(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		opts := cookiesession.Options{Secrets: testKeys(1)}
		s := newSite(t, b, opts)

		// The engine's own limit on name and value.
		s.visit("/raw?n=4096")
		assert.Contains(t, names(s.cookies()), "probe", "4096 bytes of name and value are kept")
		s.visit("/raw?n=4097")
		probe := s.cookies()["probe"]
		if e.cookieLimit == 4096 {
			assert.Equal(t, 4096, len(probe.Name)+len(probe.Value), "and 4097 is silently ignored")
		} else {
			assert.Equal(t, 4097, len(probe.Name)+len(probe.Value), "no per-cookie limit: 4097 is kept")
		}
		s.clearCookies()

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
		assert.Equal(t, fmt.Sprintf("stored %d", lo), s.visit(fmt.Sprintf("/fill?n=%d", lo)))
		c, ok := s.cookies()["session"]
		require.True(t, ok, "the largest session cookie was kept")
		assert.Greater(t, len(c.Name)+len(c.Value), 3900, "the test is at the limit")
		assert.Equal(t, fmt.Sprintf("%d new=false", lo), s.visit("/read"))

		// One byte more: the package refuses, even where the engine would
		// keep it, because other engines would not.
		assert.Contains(t, s.visit(fmt.Sprintf("/fill?n=%d", lo+1)), "too large: cookiesession: encoded session is")
		assert.Equal(t, fmt.Sprintf("%d new=false", lo), s.visit("/read"), "the previous session is intact")
	})
}

func TestChunksInTheBrowser(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newSite(t, b, cookiesession.Options{Secrets: testKeys(1), MaxChunks: 3})

		s.visit("/fill?n=7000")
		assert.Equal(t, []string{"session", "session.1", "session.2"}, names(s.cookies()))
		assert.Equal(t, "7000 new=false", s.visit("/read"))

		s.visit("/fill?n=10")
		assert.Equal(t, []string{"session"}, names(s.cookies()), "shrinking deleted the stale chunks")
		assert.Equal(t, "10 new=false", s.visit("/read"))

		s.visit("/fill?n=7000")
		require.Len(t, s.cookies(), 3)
		s.visit("/destroy")
		assert.Empty(t, s.cookies(), "destroy deleted every chunk")
	})
}

func TestKeyRotationInTheBrowser(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newSite(t, b, cookiesession.Options{Secrets: testKeys(1)}) // key A
		assert.Equal(t, "1", s.visit("/count"))
		underA := s.cookies()["session"].Value

		s.use(cookiesession.Options{Secrets: testKeys(2, 1)}) // [B, A]
		assert.Equal(t, "2", s.visit("/count"))
		assert.NotEqual(t, underA, s.cookies()["session"].Value)

		s.use(cookiesession.Options{Secrets: testKeys(2)}) // B alone
		assert.Equal(t, "3", s.visit("/count"), "the re-issued cookie verifies with B alone")

		// A cookie still sealed with A alone is not accepted by B: read-only
		// check through the package, since the browser now holds B's cookie.
		m, err := cookiesession.New(cookiesession.Options{Secrets: testKeys(2)})
		require.NoError(t, err)
		assert.True(t, m.LoadHeader("session="+underA).IsNew())
	})
}

func TestHostPrefix(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newSite(t, b, cookiesession.Options{Secrets: testKeys(1), Name: "__Host-session"})
		assert.Equal(t, "1", s.visit("/count"))
		assert.Equal(t, "2", s.visit("/count"))
		c, ok := s.cookies()["__Host-session"]
		require.True(t, ok, "the __Host- cookie was accepted with the defaults")
		assert.True(t, c.Secure)
		assert.Equal(t, "/", c.Path)
		assert.Equal(t, "localhost", c.Domain, "host-only: no Domain attribute")

		// The engine's own rules: a __Host- cookie without Secure.
		s.visit("/raw-host")
		_, kept := s.cookies()["__Host-probe"]
		assert.Equal(t, !e.hostPrefixRules, kept, "the engine enforces the __Host- rules: %v", e.hostPrefixRules)
	})
}

func TestPartitioned(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		s := newSite(t, b, cookiesession.Options{Secrets: testKeys(1), Partitioned: true})
		assert.Equal(t, "1", s.visit("/count"))
		assert.Equal(t, "2", s.visit("/count"), "the partitioned cookie is sent back")
		c, ok := s.cookies()["session"]
		require.True(t, ok)
		if e.reportsPartition {
			assert.Equal(t, "https://localhost", c.Partition, "kept under the site's partition key")
		} else {
			assert.Empty(t, c.Partition, "reported as an ordinary cookie")
		}
	})
}
