package cookiesession

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileCase is one attack: the Cookie header it sends, and the reason
// the log must give (empty: any).
type hostileCase struct {
	name   string
	header string
	reason string
}

// sessionNames returns the names in a Cookie header that are the session
// cookie "session" or one of its chunks ("session.N", N in 1..15): the
// names the package may delete.
func sessionNames(header string) []string {
	var names []string
	seen := map[string]bool{}
	for _, part := range strings.Split(header, ";") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
		rest, chunk := strings.CutPrefix(name, "session.")
		n, err := strconv.Atoi(rest)
		ours := name == "session" || chunk && err == nil && n >= 1 && n < maxChunksLimit && rest == strconv.Itoa(n)
		if ours && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// flipRegions returns values with one bit flipped in each region of an
// encoded value: its first bytes (timestamp or version and key hint), the
// nonce or IV, the ciphertext and the MAC or tag.
func flipRegions(value string) map[string]string {
	out := map[string]string{}
	flipText := func(region string, i int) {
		b := []byte(value)
		b[i] ^= 0x01
		out[region] = string(b)
	}
	if strings.HasPrefix(value, compactPrefix) {
		raw, _ := base64.RawURLEncoding.DecodeString(value[1:])
		for region, i := range map[string]int{"version": 0, "key hint": 1, "nonce": 10, "ciphertext": compactNonce + 5, "tag": len(raw) - 3} {
			b := bytes.Clone(raw)
			b[i] ^= 0x40
			out[region] = compactPrefix + base64.RawURLEncoding.EncodeToString(b)
		}
		flipText("prefix", 0)
		return out
	}
	// securecookie: base64("timestamp|base64(IV + ciphertext)|MAC").
	outer, _ := base64.URLEncoding.DecodeString(value)
	parts := bytes.SplitN(outer, []byte("|"), 3)
	mid := len(parts[0]) + 1
	for region, i := range map[string]int{"timestamp": 2, "IV": mid + 4, "ciphertext": mid + len(parts[1]) - 4, "MAC": len(outer) - 5} {
		b := bytes.Clone(outer)
		b[i] ^= 0x01
		out[region] = base64.URLEncoding.EncodeToString(b)
	}
	flipText("base64 text", len(value)/3)
	return out
}

func hostileCases(t *testing.T, opts Options) []hostileCase {
	t.Helper()
	m, clk := newTestManager(t, opts)
	valid := issue(t, m, func(s *Session) { s.Set("role", "user") })["session"].Value

	var cases []hostileCase
	add := func(name, header, reason string) { cases = append(cases, hostileCase{name, header, reason}) }

	for region, v := range flipRegions(valid) {
		add("flipped bit in "+region, "session="+v, "")
	}
	for _, n := range []int{0, 1, 2, 4, 16, len(valid) / 2, len(valid) - 2, len(valid) - 1} {
		add(fmt.Sprintf("truncated to %d", n), "session="+valid[:n], "")
	}
	for name, v := range map[string]string{
		"extended":             valid + "AAAA",
		"doubled":              valid + valid,
		"whitespace":           " " + valid[:10] + " \t" + valid[10:],
		"quoted garbage":       `"` + valid[:20] + `"`,
		"inner quote":          valid[:10] + `"` + valid[11:],
		"non-ASCII":            valid[:10] + "é€" + valid[12:],
		"NUL byte":             valid[:10] + "\x00" + valid[11:],
		"standard base64":      strings.NewReplacer("-", "+", "_", "/").Replace(valid),
		"base64 padding":       valid + "==",
		"invalid base64 chars": "!!!$$$***" + valid[9:],
		"compact marker only":  "~",
		"compact garbage":      "~" + strings.Repeat("A", 80),
		"chunk header only":    "2|",
	} {
		if v == valid {
			continue // e.g. no '-' or '_' to swap for the standard alphabet
		}
		add(name, "session="+v, "")
	}

	// Values that are genuine, but not for this manager or not any more.
	named, _ := newTestManager(t, Options{Name: "other", Format: opts.Format, Secrets: opts.Secrets})
	moved := issue(t, named, func(s *Session) { s.Set("role", "admin") })["other"].Value
	add("valid value replayed under another name", "session="+moved, "")
	otherFormat := FormatSignOnly
	if opts.Format == FormatSignOnly {
		otherFormat = FormatSecureCookie
	}
	crossed, _ := newTestManager(t, Options{Format: otherFormat, Secrets: opts.Secrets})
	add("value of the other protection mode", "session="+issue(t, crossed, func(s *Session) { s.Set("role", "admin") })["session"].Value, "")
	foreign, _ := newTestManager(t, Options{Format: opts.Format, Secrets: [][]byte{testKey(66)}})
	add("another application's keys", "session="+issue(t, foreign, func(s *Session) { s.Set("role", "admin") })["session"].Value, "")

	future, futureClk := newTestManager(t, opts)
	futureClk.t = clk.Now().Add(24 * time.Hour)
	add("far-future created-at", "session="+issue(t, future, func(s *Session) { s.Set("role", "admin") })["session"].Value, "created in the future")
	past, pastClk := newTestManager(t, opts)
	pastClk.t = clk.Now().Add(-25 * time.Hour)
	add("expired (absolute)", "session="+issue(t, past, func(s *Session) { s.Set("role", "admin") })["session"].Value, "absolute lifetime ended")
	if opts.IdleTimeout > 0 {
		idle, idleClk := newTestManager(t, opts)
		idleClk.t = clk.Now().Add(-opts.IdleTimeout - time.Minute)
		add("expired (idle)", "session="+issue(t, idle, func(s *Session) { s.Set("role", "admin") })["session"].Value, "idle since")
	}
	notOurs, err := m.secrets.Load().ring.seal(m.builtin, "session", []byte(`{"role":"admin","user":1}`))
	require.NoError(t, err)
	add("valid JSON that is not our envelope", "session="+notOurs, "not a session envelope")

	// Chunk attacks.
	big := func() browser { return issue(t, m, func(s *Session) { s.Set("blob", randomText(3500)) }) }
	a, b := big(), big()
	require.Len(t, a, 2, "MaxChunks must be 2 for the chunk cases")
	add("chunk count of 10^9", "session=1000000000|"+a["session"].Value[2:]+"; session.1="+a["session.1"].Value, "chunk count")
	add("chunks of two sessions", "session="+a["session"].Value+"; session.1="+b["session.1"].Value, "")
	add("missing chunk", "session="+a["session"].Value, "missing")
	add("chunk without the head", "session.1="+a["session.1"].Value, "without")

	// Size attacks: bounded before any base64 or crypto runs.
	add("1 MB session cookie", "session="+strings.Repeat("A", 1<<20), "longer than any configuration writes")
	add("five different heads", "session=a; session=b; session=c; session=d; session="+valid, "more than 4 different values")
	add("chunk sets with too many combinations", a.header()+"; session.1=x; session=2|y; session.1=z; session=2|w; session.1=v", "more than 8 ways")
	add("4 KB of pure garbage", "session="+randomText(4000), "")
	var many strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&many, "c%d=v; ", i)
	}
	add("3,000 cookies and a forged session", many.String()+"session="+valid[:len(valid)-3]+"xyz", "")
	add("1 MB Cookie header of other cookies and chunks", strings.Repeat("x=y; ", 200000)+"session.1=AAAA", "without")
	return cases
}

// TestHostileInput sends every attack through the real middleware. The
// handler must see a new, empty session, nothing of the forged content,
// and the response must clear every session cookie the request carried.
func TestHostileInput(t *testing.T) {
	for _, opts := range []Options{
		{MaxChunks: 2, IdleTimeout: time.Hour},
		{MaxChunks: 2, Format: FormatCompact},
		{MaxChunks: 2, Format: FormatSignOnly},
	} {
		opts.Secrets = [][]byte{testKey(1)}
		t.Run(fmt.Sprint(opts.Format), func(t *testing.T) {
			m, _ := newTestManager(t, opts)
			for _, tc := range hostileCases(t, opts) {
				t.Run(tc.name, func(t *testing.T) {
					var logs bytes.Buffer
					m.logger = debugLogger(&logs)
					resp := serve(m, tc.header, func(_ http.ResponseWriter, s *Session) {
						assert.True(t, s.IsNew())
						assert.Empty(t, s.Keys())
						_, ok := Value[string](s, "role")
						assert.False(t, ok)
					})
					assert.Equal(t, http.StatusOK, resp.StatusCode)
					assert.Empty(t, written(resp))
					want := sessionNames(tc.header)
					assert.ElementsMatch(t, want, deleted(resp), "every session cookie sent is cleared")
					if len(want) > 0 {
						assert.Contains(t, logs.String(), "starting a new session")
					}
					assert.Contains(t, logs.String(), tc.reason)
					assert.Less(t, logs.Len(), 2000, "the log never echoes the cookie")
				})
			}
		})
	}
}

// hostileShape is a Cookie header of one shape, for the cost test and
// BenchmarkHostileHeader.
type hostileShape struct{ name, header string }

// hostileShapes returns a Manager with 4 keys that writes up to maxChunks
// cookies, and 1 MiB headers that name the cookies of a 16-chunk session
// in every way the reader handles, next to the reference: the same length
// of unrelated cookies.
func hostileShapes(tb testing.TB, maxChunks int) (*Manager, []hostileShape) {
	tb.Helper()
	keys := [][]byte{testKey(1), testKey(2), testKey(3), testKey(4)}
	m, err := New(Options{Secrets: keys, MaxChunks: maxChunks, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	// A 16-chunk session sealed under a fifth key: it joins, and every key
	// has to try it.
	forger, err := New(Options{Secrets: [][]byte{testKey(5)}, MaxChunks: maxChunksLimit, Format: FormatSecureCookie})
	require.NoError(tb, err)
	s := forger.LoadHeader()
	s.Set("blob", randomText(36000))
	lines, err := forger.SaveHeader(s)
	require.NoError(tb, err)
	require.Len(tb, lines, maxChunksLimit)
	parts := make([]string, len(lines))
	for i, line := range lines {
		parts[i], _, _ = strings.Cut(line, ";")
	}
	repeat := func(cookie string) string {
		return strings.Repeat(cookie+"; ", (1<<20)/(len(cookie)+2))
	}
	// The same chunks with more values for the last ones: eight ways to
	// join 16 full chunks, each of which every key could try; and the
	// most the reader tries, three ways.
	variant := func(part string, k int) string {
		name, value, _ := strings.Cut(part, "=")
		return name + "=" + string("ABCD"[k]) + value[1:]
	}
	joins := slices.Clone(parts)
	for i := maxChunksLimit - 3; i < maxChunksLimit; i++ {
		joins = append(joins, variant(parts[i], 0))
	}
	eightJoins := strings.Join(joins, "; ")
	threeJoins := strings.Join(append(slices.Clone(parts), variant(parts[15], 2), variant(parts[15], 3)), "; ")
	return m, []hostileShape{
		// The reference of the forged shapes: unrelated cookies of the
		// length of eight-joins.
		{"unrelated-80KB", strings.Repeat("x=y; ", len(eightJoins)/5)},
		{"forged-16-chunks-8-joins-4-keys", eightJoins},
		{"unrelated-70KB", strings.Repeat("x=y; ", len(threeJoins)/5)},
		{"forged-16-chunks-3-joins-4-keys", threeJoins},
		{"unrelated", repeat("x=y")},
		{"repeated-head", repeat("session=y")},
		{"repeated-chunk", repeat("session.1=y")},
		{"out-of-range-chunks", repeat("session.99=y")},
		{"leftover-chunks", repeat("session.15=y")},
		{"distinct-heads", repeat("session=" + randomText(8))},
		{"huge-foreign-chunk-name", "session." + strings.Repeat("9", 1<<20) + "=y"},
		{"forged-16-chunks-4-keys", strings.Join(parts, "; ")},
	}
}

// TestHostileHeaderCost pins the bounds BenchmarkHostileHeader measures:
// whatever the header's shape, a request costs at most 100 allocations,
// its allocated bytes are bounded by the session's own budget (not by the
// number of cookies), and the response carries at most one deletion per
// name the package writes.
func TestHostileHeaderCost(t *testing.T) {
	for _, maxChunks := range []int{maxChunksLimit, 1} {
		t.Run(fmt.Sprintf("MaxChunks=%d", maxChunks), func(t *testing.T) { testHostileHeaderCost(t, maxChunks) })
	}
}

func testHostileHeaderCost(t *testing.T, maxChunks int) {
	m, shapes := hostileShapes(t, maxChunks)
	var logs bytes.Buffer
	m.logger = debugLogger(&logs)
	budget := maxChunksLimit * defaultMaxCookieSize
	for _, c := range shapes {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", c.header)
			h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				m.FromContext(r.Context()).IsNew()
			}))
			var w *httptest.ResponseRecorder
			serveOnce := func() {
				w = httptest.NewRecorder()
				h.ServeHTTP(w, req)
			}
			logs.Reset()
			allocs := testing.AllocsPerRun(5, serveOnce)
			assert.LessOrEqual(t, allocs, 100.0, "allocations per request")

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			serveOnce()
			runtime.ReadMemStats(&after)
			assert.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(8*budget), "bytes allocated per request")

			setCookie := w.Header().Values("Set-Cookie")
			assert.LessOrEqual(t, len(setCookie), maxChunksLimit)
			assert.LessOrEqual(t, len(strings.Join(setCookie, "")), budget)
			assert.Less(t, logs.Len(), 2000, "logs never echo the header")
		})
	}
}

// TestCookieTossing: a sibling subdomain can set a cookie of the session's
// name for the parent domain, and the browser then sends both. A junk
// cookie must not log the user out, and a valid session of the attacker's
// own must not replace the user's. Two valid sessions are both refused,
// and both deleted: the host-only cookie, and the name at each domain of
// the request's host, so the tossed one does not come back on every
// request.
func TestCookieTossing(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 3})
	user := issue(t, m, func(s *Session) { s.Set("user", "victim") })["session"].Value
	attacker := issue(t, m, func(s *Session) { s.Set("user", "attacker") })["session"].Value
	big := issue(t, m, func(s *Session) { s.Set("user", "victim"); s.Set("blob", randomText(7000)) })
	require.Len(t, big, 3)
	foreign, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(9)}})
	otherApp := issue(t, foreign, func(s *Session) { s.Set("user", "attacker") })["session"].Value

	const expired = "; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
	deletions := func(names ...string) []string {
		var lines []string
		for _, domain := range []string{"; Domain=app.example.com", "; Domain=example.com", ""} {
			for _, name := range names {
				lines = append(lines, name+"=; Path=/"+domain+expired)
			}
		}
		return lines
	}
	for _, tc := range []struct {
		name, header string
		kept         bool     // the user's session survives
		sent         []string // the Set-Cookie lines when it does not
	}{
		{"junk tossed after", "session=" + user + "; session=junk", true, nil},
		{"junk tossed before", "session=junk; session=" + user, true, nil},
		{"another application's session tossed", "session=" + otherApp + "; session=" + user, true, nil},
		{"the same cookie for two domains", "session=" + user + "; session=" + user, true, nil},
		{"junk head tossed on a chunked session", "session=3|junk; " + big.header(), true, nil},
		{"junk chunk tossed on a chunked session", big.header() + "; session.1=junk; session.2=junk", true, nil},
		{"the attacker's valid session tossed after", "session=" + user + "; session=" + attacker, false, deletions("session")},
		{"the attacker's valid session tossed before", "session=" + attacker + "; session=" + user, false, deletions("session")},
		{"the attacker's session tossed on a chunked one", "session=" + attacker + "; " + big.header(), false, deletions("session", "session.1", "session.2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
			req.Header.Set("Cookie", tc.header)
			rec := httptest.NewRecorder()
			m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				s := m.FromContext(r.Context())
				who, _ := Value[string](s, "user")
				if tc.kept {
					assert.False(t, s.IsNew())
					assert.Equal(t, "victim", who)
				} else {
					assert.True(t, s.IsNew(), "never pick one of two sessions")
					assert.Empty(t, who)
				}
			})).ServeHTTP(rec, req)
			assert.Equal(t, tc.sent, rec.Header().Values("Set-Cookie"), "nothing that would delete the user's cookie, or every copy of the name")
		})
	}

	// In Go's cookie jar: the tossed session is gone after one response,
	// and the next request is the user's alone. The jar keys cookies by
	// name, domain and path, as RFC 6265 5.3 says, so a host-only cookie
	// and one set with Domain=app.example.com are one cookie (browsers
	// keep them apart): the deletion for the host's own domain comes
	// before a session written on the same response, which would
	// otherwise delete it. A tossed cookie of another path stays; only a
	// __Host- name rules it out.
	for _, tc := range []struct {
		path  string
		login bool // the user logs in on the response that deletes
	}{{"/", false}, {"/", true}, {"/app", false}} {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		app, _ := url.Parse("https://app.example.com/app/page")
		evil, _ := url.Parse("https://evil.example.com/")
		jar.SetCookies(app, []*http.Cookie{{Name: "session", Value: user, Path: "/"}})
		jar.SetCookies(evil, []*http.Cookie{{Name: "session", Value: attacker, Path: tc.path, Domain: "example.com"}})
		visit := func(h func(http.ResponseWriter, *Session)) {
			req := httptest.NewRequest(http.MethodGet, app.String(), nil)
			for _, c := range jar.Cookies(app) {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, m.FromContext(r.Context())) })).ServeHTTP(rec, req)
			jar.SetCookies(app, rec.Result().Cookies())
		}
		loggedIn := func(want string) {
			t.Helper()
			visit(func(_ http.ResponseWriter, s *Session) {
				who, _ := Value[string](s, "user")
				assert.Equal(t, want, who, "and stays logged in")
			})
		}
		require.Len(t, jar.Cookies(app), 2)
		switch {
		case tc.login:
			visit(func(_ http.ResponseWriter, s *Session) { s.Set("user", "victim again") })
			assert.Len(t, jar.Cookies(app), 1, "the session written on the response that deletes both")
			loggedIn("victim again")
		case tc.path == "/":
			visit(touch)
			assert.Empty(t, jar.Cookies(app), "both sessions deleted")
			visit(func(_ http.ResponseWriter, s *Session) { s.Set("user", "victim again") }) // the user logs in again
			loggedIn("victim again")
		default:
			visit(touch)
			require.Len(t, jar.Cookies(app), 1, "the tossed cookie of Path=/app is not deleted by Path=/")
			assert.Equal(t, attacker, jar.Cookies(app)[0].Value)
		}
	}
	assert.Equal(t, []string{"example.com"}, tossDomains("example.com:8443"))
	assert.Equal(t, []string{"b.c.d.example.com", "c.d.example.com", "d.example.com", "example.com"}, tossDomains("A.b.c.d.example.com."))
	for _, none := range []string{"localhost", "127.0.0.1", "[::1]:443", "exa_mple.com", "a..b.com", "", "app.example\u212a.com"} { // U+212A lower-cases to k
		assert.Empty(t, tossDomains(none), none)
	}
	hostOnly, _ := newTestManager(t, Options{Name: "__Host-s"})
	assert.Empty(t, hostOnly.appendTossedDeletions(nil, "app.example.com", 1), "no Domain for a __Host- name")
}

// TestTossedDeletionsAreBounded: beside a valid session of their own,
// an attacker can toss junk under every chunk name at the parent domain.
// Only the names the two valid sessions occupy are deleted at the host's
// domains, so the response stays within a 4 KB proxy buffer for response
// headers, for the longest host there is, also when the user logs in on
// it.
func TestTossedDeletionsAreBounded(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	user := issue(t, m, func(s *Session) { s.Set("user", "victim") })["session"].Value
	attacker := issue(t, m, func(s *Session) { s.Set("user", "attacker") })["session"].Value
	header := "session=" + user + "; session=" + attacker
	for i := 1; i < maxChunksLimit; i++ {
		header += fmt.Sprintf("; session.%d=x", i)
	}
	label := strings.Repeat("a", 61)
	longest := strings.Join([]string{label, label, label, label}, ".") + ".com" // 251 bytes, of at most 253
	for _, tc := range []struct {
		host    string
		domains int
	}{{"app.example.com", 2}, {longest, maxTossDomains}} {
		for _, login := range []bool{false, true} {
			req := httptest.NewRequest(http.MethodGet, "https://x/", nil)
			req.Host = tc.host
			req.Header.Set("Cookie", header)
			rec := httptest.NewRecorder()
			m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				s := m.FromContext(r.Context())
				require.True(t, s.IsNew())
				if login {
					s.Set("user", "victim again")
				}
			})).ServeHTTP(rec, req)
			lines := rec.Header().Values("Set-Cookie")
			size, atDomains := 0, 0
			for _, l := range lines {
				size += len("Set-Cookie: \r\n") + len(l)
				if strings.Contains(l, "; Domain=") {
					atDomains++
					assert.True(t, strings.HasPrefix(l, "session=;"), "only the name the two sessions occupy: %s", l)
				}
			}
			t.Logf("host of %d bytes, login %v: %d Set-Cookie lines, %d bytes", len(tc.host), login, len(lines), size)
			assert.Equal(t, tc.domains, atDomains)
			assert.LessOrEqual(t, len(lines), maxChunksLimit+maxTossDomains)
			assert.Less(t, size, 4096)
		}
	}
}

// TestChunkNamesOfOtherConfigurations: a chunk index that a larger
// MaxChunks could have written is a leftover, deleted without costing the
// session; any other name that starts with "session." is not ours.
func TestChunkNamesOfOtherConfigurations(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 2})
	var logs bytes.Buffer
	m.logger = debugLogger(&logs)
	user := issue(t, m, func(s *Session) { s.Set("user", 1) }).header()
	keep := func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) }

	resp := serve(m, user+"; session.5=x; session.15=y; session.2=z", keep)
	assert.Equal(t, []string{"session.15", "session.2", "session.5"}, deleted(resp))
	assert.Empty(t, written(resp))

	longName := "session." + strings.Repeat("7", 1<<20)
	resp = serve(m, user+"; session.01=x; session.16=x; session.99=x; session.sig=x; session.=x; session.1a=x; "+longName+"=x", keep)
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "names the package never writes are left alone")

	// Without a session, leftovers are still cleared, and nothing of the
	// names reaches the log.
	resp = serve(m, "session.9=x; "+longName+"=x", touch)
	assert.Equal(t, []string{"session.9"}, deleted(resp))
	assert.NotContains(t, logs.String(), "777")
}

func TestNotBefore(t *testing.T) {
	m, clk := newTestManager(t, Options{})
	old := issue(t, m, func(s *Session) { s.Set("user", 1) })
	clk.Add(time.Hour)
	renewed := issue(t, m, func(s *Session) { s.Set("user", 2) })

	killed, kclk := newTestManager(t, Options{NotBefore: clk.Now().Add(-time.Minute)})
	kclk.t = clk.Now()
	_, err := killed.Inspect(old.header())
	assert.ErrorIs(t, err, ErrRevoked)
	resp := old.visit(killed, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
	assert.Equal(t, []string{"session"}, deleted(resp))
	renewed.visit(killed, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew(), "sessions created after NotBefore stay")
	})
}

// fuzzSeeds adds Cookie headers of valid sessions in each format, one and
// several cookies long, and returns the IDs they carry. The IDs are fixed
// because the fuzzer's workers each run this setup again.
func fuzzSeeds(f *testing.F, managers []*Manager) map[string]bool {
	ids := map[string]bool{}
	for _, m := range managers {
		for _, size := range []int{10, 3000} {
			now := m.now()
			id := fmt.Sprintf("seed-%v-%d", m.format, size)
			ids[id] = true
			raw, _ := json.Marshal(strings.Repeat("x", size))
			e := envelope{ID: id, Created: now.Unix(), Expires: now.Add(time.Hour).Unix(), Values: []field{{"v", string(raw)}}}
			lines, err := m.encode(nil, &e, now)
			require.NoError(f, err)
			var parts []string
			for _, line := range lines {
				pair, _, _ := strings.Cut(line, ";")
				parts = append(parts, pair)
			}
			f.Add(strings.Join(parts, "; "))
		}
	}
	f.Add("session=; session.1=x")
	f.Add("session=3|abc; session.1=def; session.2=ghi")
	return ids
}

// FuzzDecode: no input panics, and anything that decodes carries an ID
// that our keys issued.
func FuzzDecode(f *testing.F) {
	var managers []*Manager
	for _, format := range []Format{FormatSecureCookie, FormatCompact, FormatSignOnly} {
		m, err := New(Options{Secrets: [][]byte{testKey(1)}, Format: format, MaxChunks: 3})
		require.NoError(f, err)
		managers = append(managers, m)
	}
	ids := fuzzSeeds(f, managers)
	f.Fuzz(func(t *testing.T, header string) {
		for _, m := range managers {
			d, err := m.decode(context.Background(), []string{header}, m.now())
			if err == nil && d.chunks > 0 && !ids[d.env.ID] {
				t.Fatalf("decoded a session we never issued: %q", d.env.ID)
			}
			// The middleware path must not panic either.
			s := m.LoadHeader(header)
			s.IsNew()
			_, _ = m.SaveHeader(s)
		}
	})
}

// FuzzJoin: the chunk joiner never panics, never tries more than maxTries
// values, never joins more cookies than the package writes and never
// returns more than they can hold.
func FuzzJoin(f *testing.F) {
	// The package's own layout, and the NAME.0, NAME.1, … of other stacks
	// at the largest MaxChunks.
	chunkers := []chunker{newChunker("session", 3, 200, 40), newLayoutChunker("session", ChunksIndexed, maxChunksLimit, 200, 40)}
	f.Add("session.0=a; session.1=b; session.15=c; session.16=d")
	f.Add("session.0=a; session.0=b; session.1=c; session=d; session.2=")
	f.Add("session=2|abc; session.1=def")
	f.Add("session=3|a; session.1=b; session.2=c; session.3=d")
	f.Add("session=99|x; session.01=y; session.1=z; session.1=w")
	f.Add("session=2|a; session=2|b; session.1=c; session.1=d; session=x")
	f.Add(`session="quoted"; session.2=`)
	f.Fuzz(func(t *testing.T, header string) {
		for _, c := range chunkers {
			join(t, &c, header)
		}
	})
}

func join(t *testing.T, c *chunker, header string) {
	{
		var r received
		c.scan(&r, []string{header})
		tries, joined, received := 0, 0, 0
		for _, v := range r.values {
			received += len(v.value)
		}
		_ = c.each(&r, func(value string, n int) error {
			tries++
			if joined += len(value); joined > maxJoined*received {
				t.Fatalf("joined %d bytes of %d received", joined, received)
			}
			// Every cookie of up to 4096 bytes and every chunk the package
			// writes is read, whatever this configuration writes: a replica
			// not yet reconfigured may have written them.
			if tries > maxTries || n < 1 || n > len(c.names) || len(value) > n*defaultMaxCookieSize {
				t.Fatalf("try %d joined %d cookies, %d bytes", tries, n, len(value))
			}
			return nil
		})
	}
}

// FuzzParseEnvelope: the envelope parser never panics, and what it accepts
// it writes back in a form it reads the same way.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"i":"abc","c":1,"e":2,"v":{"k":[1,{"x":"}"}]},"f":["a"]}`))
	f.Add([]byte(`{"i":"a\"b","c":1,"e":2,"s":3,"p":true,"v":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := parseEnvelope(data)
		if err != nil {
			return
		}
		again, err := parseEnvelope(e.appendJSON(nil))
		if err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v", err)
		}
		if again.ID != e.ID || len(again.Values) != len(e.Values) {
			t.Fatalf("round trip changed the envelope")
		}
	})
}

// TestMissingChunkIsNamed: when a proxy or client drops one cookie of a
// chunked session (curl sends at most 8,190 bytes of Cookie), the reason
// logged and returned by Inspect says so, rather than blaming the keys.
func TestMissingChunkIsNamed(t *testing.T) {
	var logs bytes.Buffer
	m, _ := newTestManager(t, Options{MaxChunks: 3, Logger: debugLogger(&logs)})
	b := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	require.Len(t, b, 3)
	for _, dropped := range []string{"session", "session.1", "session.2"} {
		rest := maps.Clone(b)
		delete(rest, dropped)
		_, err := m.Inspect(rest.header())
		assert.ErrorIs(t, err, ErrChunkMissing, dropped)
		assert.ErrorIs(t, err, ErrInvalid)
		assert.ErrorContains(t, err, "a chunk is missing")
		assert.NotContains(t, err.Error(), "key")
		logs.Reset()
		serve(m, rest.header(), touch)
		assert.Contains(t, logs.String(), "a chunk is missing")
	}
	_, err := m.Inspect("session=" + b["session"].Value + "; session.1=" + b["session.1"].Value + "; session.2=x")
	assert.ErrorIs(t, err, ErrInvalid)
	assert.NotErrorIs(t, err, ErrChunkMissing, "a changed chunk is not a missing one")
}
