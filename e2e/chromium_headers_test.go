package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
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

	_, err = b.open(demo + "/")
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
		out, err := json.MarshalIndent(got, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(chromiumHeadersFile, append(out, '\n'), 0o644))
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
