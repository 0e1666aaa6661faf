package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumHeadersFile is where the end-to-end comparison reads the
// request headers a browser sends, besides its cookies.
const chromiumHeadersFile = "../benchmarks/compare/chromium-headers.json"

var updateChromiumHeaders = flag.Bool("update-chromium-headers", false,
	"write the headers Chromium sends the demo to "+chromiumHeadersFile)

// capturedHeaders is the file's shape (benchmarks/compare/wire.go reads
// it): per route of the comparison, the header fields of the request
// Chromium made, pseudo-headers first, cookies left out. The origin
// stands as {origin} and the host as {host}.
type capturedHeaders struct {
	Browser  string
	Protocol string
	Measured string
	Routes   map[string]capturedRequest
}

type capturedRequest struct {
	Kind   string
	Fields []capturedField
}

type capturedField struct{ Name, Value string }

// size is the request's header bytes as HTTP/2 counts them for its
// header list: name and value of each field, before compression.
func (r capturedRequest) size() int {
	n := 0
	for _, f := range r.Fields {
		n += len(f.Name) + len(f.Value)
	}
	return n
}

// TestChromiumHeadersOverHTTP2 records what Chromium sends the demo over
// HTTP/2, besides its cookies: for the comparison's read route, a
// same-origin navigation by a link (the demo's "Just read"), and for its
// incr route, a form's POST (the demo's "Shrink the note"). With
// -update-chromium-headers it writes them for the comparison; otherwise
// it checks that the file still names the fields Chromium sends, at sizes
// within a tenth of today's.
func TestChromiumHeadersOverHTTP2(t *testing.T) {
	b := newChromium(t)
	demo := startDemo(t, "-https")

	// Every request's headers as sent on the wire. Over HTTP/2 they hold
	// the pseudo-headers, which HTTP/1.1 has not: finding a request by
	// :method and :path finds it only if it went over HTTP/2. (A redirect
	// keeps its request's ID, so IDs do not tell the hops apart.)
	var (
		mu   sync.Mutex
		sent []network.Headers
	)
	require.NoError(t, chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSentExtraInfo); ok {
			mu.Lock()
			sent = append(sent, ev.Headers)
			mu.Unlock()
		}
	}))
	ctx, cancel := b.within()
	defer cancel()
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)

	// find returns the headers of the last request of method to path.
	find := func(method, path string) network.Headers {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			var h network.Headers
			for _, s := range sent {
				if s[":method"] == method && s[":path"] == path {
					h = s
				}
			}
			mu.Unlock()
			if h != nil {
				return h
			}
		}
		t.Fatalf("no %s %s seen over HTTP/2", method, path)
		return nil
	}
	click := func(sel, want string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)), sel)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			body, err := b.eval(`document.body.innerText`)
			if err == nil && strings.Contains(body, want) {
				return
			}
			require.True(t, time.Now().Before(deadline), "no page with %q after clicking %s", want, sel)
		}
	}

	_, err = open(b, demo+"/")
	require.NoError(t, err)
	click(`#just-read`, "this page only read the session")
	readHeaders := find("GET", "/read")
	click(`form[action="/note"] input[value="20"] ~ button`, "Stored a note of 20 bytes.")
	incrHeaders := find("POST", "/note")

	host := strings.TrimPrefix(demo, "https://")
	got := capturedHeaders{
		Browser:  chromiumVersion(t),
		Protocol: "h2",
		Measured: time.Now().UTC().Format("2006-01-02"),
		Routes: map[string]capturedRequest{
			"read": {"a same-origin navigation by a link (GET)", fields(t, readHeaders, demo, host)},
			"incr": {"a form's POST, same origin", fields(t, incrHeaders, demo, host)},
		},
	}
	for route, r := range got.Routes {
		for _, f := range r.Fields {
			require.NotEqual(t, "cookie", f.Name, route)
			require.NotContains(t, f.Value, host, "%s %s: the origin is a placeholder", route, f.Name)
		}
		t.Logf("%s: %d fields, %d bytes of names and values: %s", route, len(r.Fields), r.size(), fieldNames(r))
	}

	if *updateChromiumHeaders {
		updateCapture(t, map[string]any{"Browser": got.Browser, "Protocol": got.Protocol, "Measured": got.Measured, "Routes": got.Routes})
		return
	}
	b2, err := os.ReadFile(chromiumHeadersFile)
	require.NoError(t, err)
	var committed capturedHeaders
	require.NoError(t, json.Unmarshal(b2, &committed))
	for route, r := range got.Routes {
		want := committed.Routes[route]
		assert.Equal(t, fieldNames(want), fieldNames(r), "%s: the fields Chromium sends changed; run with -update-chromium-headers", route)
		assert.InEpsilon(t, want.size(), r.size(), 0.1, "%s: the size of Chromium's headers changed; run with -update-chromium-headers", route)
	}
}

// fields returns the header fields of a request, pseudo-headers first in
// the order HTTP/2 sends them, then by name, without cookies, with the
// demo's origin and host replaced by placeholders.
func fields(t *testing.T, h network.Headers, origin, host string) []capturedField {
	t.Helper()
	var out []capturedField
	for name, v := range h {
		value, ok := v.(string)
		require.True(t, ok, "%s: %v", name, v)
		name = strings.ToLower(name)
		if name == "cookie" {
			continue // the comparison sends its own, and other cookies are not ours to record
		}
		value = strings.ReplaceAll(strings.ReplaceAll(value, origin, "{origin}"), host, "{host}")
		out = append(out, capturedField{name, value})
	}
	pseudo := []string{":method", ":authority", ":scheme", ":path"}
	rank := func(name string) int {
		if i := slices.Index(pseudo, name); i >= 0 {
			return i
		}
		return len(pseudo)
	}
	slices.SortFunc(out, func(a, b capturedField) int {
		if d := rank(a.Name) - rank(b.Name); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func fieldNames(r capturedRequest) string {
	var names []string
	for _, f := range r.Fields {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}

// chromiumVersion returns what the browser says it is.
func chromiumVersion(t *testing.T) string {
	path := need(t, "CHROMIUM", "/usr/bin/chromium", "chromium")
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return fmt.Sprintf("%s (version unknown: %v)", path, err)
	}
	return strings.TrimSpace(string(out))
}

// countedConn counts the bytes a server reads from one connection, TLS
// records whole.
type countedConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

type countedListener struct{ net.Listener }

func (l countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c}, nil
}

type countedConnKey struct{}

// wireSample is what Chromium sent for one request on its connection:
// every byte since the previous request's handler ran, frames of any kind.
type wireSample struct {
	Path     string
	UpB      int64
	CookieB  int // the request's cookie-pairs, "name=value" each
	Cookies  int
	Protocol string
}

// chromiumWire serves a page that links to itself (GET /read) and posts
// to itself (POST /incr, which changes the session), over HTTP/2 with an
// HPACK table of table bytes, and counts what Chromium sends for each.
func chromiumWire(t *testing.T, b *chromium, size, table int) (reads, incrs []wireSample) {
	t.Helper()
	m, err := cookiesession.New(cookiesession.Options{Secrets: testKeys(1), Format: cookiesession.FormatCompact, MaxChunks: 4})
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		samples []wireSample
		last    = map[*countedConn]int64{}
	)
	page := func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(countedConnKey{}).(*countedConn)
		n := 0
		for _, ck := range r.Cookies() {
			n += len(ck.Name) + 1 + len(ck.Value)
		}
		mu.Lock()
		now := c.read.Load()
		samples = append(samples, wireSample{r.URL.Path, now - last[c], n, len(r.Cookies()), r.Proto})
		last[c] = now
		mu.Unlock()
		// No favicon request: every request on the connection is one of
		// these.
		fmt.Fprint(w, `<!doctype html><link rel="icon" href="data:,"><a id="again" href="/read">read</a>`+
			`<form method="post" action="/incr"><button id="incr">change</button></form>`)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /grow", func(w http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).Set("blob", strings.Repeat("x", size))
		page(w, r)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, _ = cookiesession.Value[string](m.FromContext(r.Context()), "blob")
		page(w, r)
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		n, _ := cookiesession.Value[int](s, "n")
		s.Set("n", n+1)
		page(w, r)
	})
	srv := httptest.NewUnstartedServer(m.Middleware(mux))
	srv.Listener = countedListener{srv.Listener}
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, countedConnKey{}, c.(*tls.Conn).NetConn())
	}
	srv.Config.HTTP2 = &http.HTTP2Config{MaxDecoderHeaderTableSize: table}
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{localhostCert()}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	ctx, cancel := b.within()
	defer cancel()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(samples) }
	step := func(do chromedp.Action[chromedp.Void]) {
		t.Helper()
		before := count()
		require.NoError(t, chromedp.Do(ctx, do))
		for deadline := time.Now().Add(10 * time.Second); count() == before; time.Sleep(20 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "no request reached the server")
		}
		// The page must have loaded before the next click finds its link.
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("#incr"))))
	}
	step(chromedp.Navigate(url + "/grow"))
	for range 5 {
		step(chromedp.Click(chromedp.CSS("#again"), chromedp.NodeVisible))
	}
	for range 5 {
		step(chromedp.Click(chromedp.CSS("#incr"), chromedp.NodeVisible))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range samples {
		require.Equal(t, "HTTP/2.0", s.Protocol, s.Path)
	}
	// The first of each route fills the tables: the last three count.
	return samples[3:6], samples[8:11]
}

func meanUp(s []wireSample) float64 {
	var sum int64
	for _, x := range s {
		sum += x.UpB
	}
	return float64(sum) / float64(len(s))
}

// TestChromiumBytesOverHTTP2 counts what Chromium itself writes on its
// HTTP/2 connection per request: an unchanged session's cookie goes as an
// index once it is in the server's HPACK table, unless with the other
// fields it overflows the table; a changed one goes whole; three cookies
// of about 4 KB each overflow the default 4 KB table, and fit a 64 KB one,
// which Chromium uses when the server offers it.
func TestChromiumBytesOverHTTP2(t *testing.T) {
	b := newChromium(t)
	type result struct {
		Case                 string
		SessionBytes, Table  int
		Cookies, CookieBytes int
		ReadUpB, IncrUpB     float64
	}
	var results []result
	for _, tc := range []struct {
		name        string
		size, table int
		cookies     int
	}{
		{"one cookie, 4 KB table", 512, 4096, 1},
		{"one cookie that crowds a 4 KB table", 2400, 4096, 1},
		{"three cookies, 4 KB table", 8000, 4096, 3},
		{"three cookies, 64 KB table", 8000, 64 << 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads, incrs := chromiumWire(t, b, tc.size, tc.table)
			r := result{tc.name, tc.size, tc.table, reads[0].Cookies, reads[0].CookieB, meanUp(reads), meanUp(incrs)}
			t.Logf("%+v", r)
			require.Equal(t, tc.cookies, r.Cookies)
			if r.CookieBytes < 3000 || tc.table > 4096 {
				assert.Less(t, r.ReadUpB, 200.0, "the unchanged cookie goes as an index")
			} else {
				assert.Greater(t, r.ReadUpB, float64(r.CookieBytes)/3, "evicted by the other fields, or crumbs by each other, and sent again")
			}
			assert.Greater(t, r.IncrUpB, float64(r.CookieBytes)/2, "a changed cookie goes whole, Huffman-coded")
			results = append(results, r)
		})
	}
	if *updateChromiumHeaders && len(results) == 4 {
		updateCapture(t, map[string]any{"Wire": results})
	}
}

// updateCapture sets the given fields of the capture file, keeping the
// others (each test records its own).
func updateCapture(t *testing.T, fields map[string]any) {
	t.Helper()
	doc := map[string]any{}
	if b, err := os.ReadFile(chromiumHeadersFile); err == nil {
		require.NoError(t, json.Unmarshal(b, &doc))
	}
	for k, v := range fields {
		doc[k] = v
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(chromiumHeadersFile, append(out, '\n'), 0o644))
}
