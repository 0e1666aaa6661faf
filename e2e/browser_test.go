// Package e2e tests cookiesession in real browsers: Debian's Chromium
// (through the DevTools protocol, with chromedp), Firefox ESR (through
// WebDriver BiDi) and WebKitGTK (through W3C WebDriver, under Xvfb).
// Browsers decide which cookies they keep and drop the rest silently, so
// the size limit, chunk deletion and cookie prefixes are checked where they
// are enforced, and the engines' known differences are asserted, not
// skipped.
//
// It is a module of its own so that chromedp and the websocket package stay
// out of the library's go.mod. Run it with: cd e2e && go test ./...
package e2e

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/selfsigned"
	"github.com/stretchr/testify/require"
)

// browser is what the suite needs from an engine. Each implementation
// speaks its engine's own automation protocol, and bounds each call by
// patience, not less.
type browser interface {
	// navigate loads url and returns when the protocol reports the page
	// loaded; open checks that it is.
	navigate(url string) error
	// eval evaluates a JavaScript expression in the page and returns it
	// converted to a string.
	eval(js string) (string, error)
	// cookies returns every cookie the browser stores, HttpOnly included.
	cookies() ([]cookie, error)
	// clear asks for every cookie to be deleted; clearCookies waits until
	// they are.
	clear() error
}

// patience bounds every wait of the suite: a browser starting, a protocol
// call, a page loading, a condition becoming true. Each wait ends as soon
// as its condition holds, so this costs nothing on a quiet machine; on a
// busy one, Firefox, ready in about 2 s when quiet, took more than 30 s to
// open its session.
const patience = 2 * time.Minute

// eventually calls check until it returns nil, and returns check's last
// error once patience has passed.
func eventually(check func() error) error {
	deadline := time.Now().Add(patience)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 250*time.Millisecond) {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
	}
}

// shown is what a browser shows.
type shown struct {
	URL, Text string
	Complete  bool // the document's readyState is "complete"
	Left      bool // open marked it as the document being left
}

func (p shown) String() string {
	return fmt.Sprintf("%s (complete: %v, being left: %v): %q", p.URL, p.Complete, p.Left, p.Text)
}

// showing reads what b shows. It fails while a navigation is under way.
func showing(b browser) (shown, error) {
	var p shown
	js, err := b.eval(`JSON.stringify({URL: location.href, Text: document.body ? document.body.innerText : "",
		Complete: document.readyState === "complete", Left: document.e2eLeft === true})`)
	if err == nil {
		err = json.Unmarshal([]byte(js), &p)
	}
	return p, err
}

// open loads url, which must not redirect, and returns the text of the
// page's body once the new document is complete. It does not take the
// driver's word that the page loaded: a page may navigate again on its
// own, and Firefox shows a complete about:blank document while it changes
// processes between sites. So open marks the document being left and
// waits for a complete document at url without the mark.
func open(b browser, url string) (string, error) {
	// Marking fails where there is no document to mark (one going away):
	// then the address and readiness decide.
	_, _ = b.eval(`document.e2eLeft = true`)
	if err := b.navigate(url); err != nil {
		return "", err
	}
	var p shown
	err := eventually(func() error {
		var err error
		if p, err = showing(b); err == nil && (p.Left || !p.Complete || p.URL != url) {
			err = fmt.Errorf("after loading %s: showing %v", url, p)
		}
		return err
	})
	return p.Text, err
}

// waitForPage waits until a complete page's address or text contains want,
// as after a click or a form that submits itself, and returns the page.
func waitForPage(t *testing.T, b browser, want string) shown {
	t.Helper()
	var p shown
	err := eventually(func() error {
		var err error
		if p, err = showing(b); err == nil && !(p.Complete && strings.Contains(p.URL+"\n"+p.Text, want)) {
			err = fmt.Errorf("showing %v", p)
		}
		return err
	})
	require.NoError(t, err, "no complete page with %q", want)
	return p
}

// cookie is a stored cookie as the engine reports it.
type cookie struct {
	Name, Value, Domain, Path string
	HTTPOnly, Secure          bool
	SameSite                  string // "Strict", "Lax" or "None"
	Session                   bool   // no expiry: gone when the browser closes
	Partition                 string // the top-level site it is partitioned under, or ""
}

// wireCookie is a cookie as both WebDriver protocols send it, but its
// value, which BiDi wraps in an object.
type wireCookie struct {
	Name, Domain, Path string
	HTTPOnly           bool
	Secure             bool
	SameSite           string   // "Lax" in WebDriver, "lax" in BiDi
	Expiry             *float64 // absent for a browser-session cookie
}

func (c wireCookie) cookie(value string) cookie {
	sameSite := c.SameSite
	if sameSite != "" {
		sameSite = strings.ToUpper(sameSite[:1]) + sameSite[1:]
	}
	return cookie{
		Name: c.Name, Value: value, Domain: c.Domain, Path: c.Path,
		HTTPOnly: c.HTTPOnly, Secure: c.Secure, SameSite: sameSite,
		Session: c.Expiry == nil,
	}
}

// engine is a browser engine and its measured differences (FACTS.md, and
// the versions named there), which the cases assert.
type engine struct {
	name  string
	start func(t *testing.T) browser

	// cookieLimit is the largest name+value the engine keeps, or 0 when it
	// has no limit of its own below its response-header ceiling.
	cookieLimit int
	// secureOnHTTPLocalhost: a Secure cookie from http://localhost is kept.
	secureOnHTTPLocalhost bool
	// hostPrefixRules: a __Host- cookie without Secure is refused.
	hostPrefixRules bool
	// reportsPartition: a Partitioned cookie is reported under the
	// top-level site's partition key. Firefox keeps and sends it, but its
	// BiDi storage reports no partition for it; WebKit ignores the attribute.
	reportsPartition bool
}

var engines = []engine{
	{name: "chromium", start: startChromium, cookieLimit: 4096,
		secureOnHTTPLocalhost: true, hostPrefixRules: true, reportsPartition: true},
	{name: "firefox", start: startFirefox, cookieLimit: 4096,
		secureOnHTTPLocalhost: true, hostPrefixRules: true, reportsPartition: false},
	{name: "webkit", start: startWebKit, cookieLimit: 0,
		secureOnHTTPLocalhost: false, hostPrefixRules: false, reportsPartition: false},
}

// inEachEngine runs f in a fresh browser of each engine, as a subtest
// named after the engine.
func inEachEngine(t *testing.T, f func(t *testing.T, e engine, b browser)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			f(t, e, e.start(t))
		})
	}
}

// need returns the path of an engine's program, or skips the test when it
// is missing (a failure under CI=true, where .ci/run installs it).
func need(t *testing.T, env, path, pkg string) string {
	t.Helper()
	path = cmpOr(os.Getenv(env), path)
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (apt-get install %s)", path, pkg)
		}
		t.Skipf("%s not found: apt-get install %s, or set %s", path, pkg, env)
	}
	return path
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// startGroup starts cmd as the leader of a new process group, or in the
// group pgid when it is not 0, and returns the group, killed when the test
// ends.
func startGroup(t *testing.T, cmd *exec.Cmd, pgid int) int {
	t.Helper()
	// Pdeathsig: the leader dies with a test binary killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start(), cmd.Path)
	if pgid == 0 {
		pgid = cmd.Process.Pid
		killGroupAtEnd(t, pgid)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // or Wait would block
		_ = cmd.Wait()
	})
	return pgid
}

// killGroupAtEnd kills the process group pgid when the test ends, and also
// shortly before the test binary's -timeout, because a timeout panics and
// runs no Cleanup.
func killGroupAtEnd(t *testing.T, pgid int) {
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	if deadline, ok := t.Deadline(); ok {
		watchdog := time.AfterFunc(time.Until(deadline)-10*time.Second, kill)
		t.Cleanup(func() { watchdog.Stop() })
	}
	t.Cleanup(kill)
}

// localhostCert is a self-signed certificate for localhost, made once per
// run: the browsers are told to accept it (acceptInsecureCerts, or
// Chromium's flag), so no certificate lands in the repository.
var localhostCert = sync.OnceValue(func() tls.Certificate {
	cert, err := selfsigned.Certificate("localhost")
	if err != nil {
		panic(err)
	}
	return cert
})

// site is a test server whose session configuration can be swapped between
// requests, as in a deploy that rotates keys.
type site struct {
	t       *testing.T
	b       browser
	handler atomic.Pointer[http.Handler]
	url     string // https://localhost:port, or http:// for a plain site
	// served numbers the site's responses; last is the number of the
	// last one, whose cookies cookies waits for, or 0 after clearCookies.
	served, last atomic.Int64
}

// stored is the cookie each response of a site sets after all others,
// holding the response's number: once the browser reports it, it has
// stored or refused every cookie of that response. A page being shown does
// not mean that yet: Firefox, under load, still reported the chunks that a
// response had deleted after its page was complete.
const stored = "e2e-stored"

// marking adds the stored cookie to a response as its header is written,
// after the session's cookies.
type marking struct {
	http.ResponseWriter
	n     int64
	wrote bool
}

func (m *marking) WriteHeader(code int) {
	if !m.wrote {
		m.wrote = true
		m.Header().Add("Set-Cookie", fmt.Sprintf("%s=%d; Path=/; HttpOnly; SameSite=Lax", stored, m.n))
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *marking) Write(p []byte) (int, error) {
	if !m.wrote {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(p)
}

// newSite serves opts over HTTPS on localhost.
func newSite(t *testing.T, b browser, opts cookiesession.Options) *site {
	return startSite(t, b, opts, true)
}

// newPlainSite serves opts over plain HTTP on localhost, which Chromium and
// Firefox treat as a secure origin and WebKit does not.
func newPlainSite(t *testing.T, b browser, opts cookiesession.Options) *site {
	return startSite(t, b, opts, false)
}

func startSite(t *testing.T, b browser, opts cookiesession.Options, https bool) *site {
	s := &site{t: t, b: b}
	s.use(opts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			// Browsers ask for it on their own, while the next page may
			// already be loading: its marker could come last.
			http.NotFound(w, r)
			return
		}
		n := s.served.Add(1)
		s.last.Store(n)
		(*s.handler.Load()).ServeHTTP(&marking{ResponseWriter: w, n: n}, r)
	}))
	if https {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{localhostCert()}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
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
	var h http.Handler = m.Middleware(pages(m))
	s.handler.Store(&h)
	return m
}

// visit loads path and returns the page's text.
func (s *site) visit(path string) string {
	s.t.Helper()
	text, err := open(s.b, s.url+path)
	require.NoError(s.t, err, path)
	return strings.TrimSpace(text)
}

// clearCookies deletes every cookie and waits until the browser reports
// none: WebKit answers the deletion before its cookie store has done it,
// and a cookie set meanwhile would be deleted with the rest.
func (s *site) clearCookies() {
	s.t.Helper()
	require.NoError(s.t, s.b.clear())
	s.last.Store(0)
	require.NoError(s.t, eventually(func() error {
		list, err := s.b.cookies()
		if err != nil {
			return err
		}
		if len(list) > 0 {
			left := make([]string, len(list))
			for i, c := range list {
				left[i] = c.Name
			}
			return fmt.Errorf("cookies left: %v", left)
		}
		return nil
	}))
}

// cookies returns the browser's cookies by name, once it has stored those
// of the site's last response, the stored marker left out.
func (s *site) cookies() map[string]cookie {
	s.t.Helper()
	var byName map[string]cookie
	require.NoError(s.t, eventually(func() error {
		list, err := s.b.cookies()
		if err != nil {
			return err
		}
		byName = map[string]cookie{}
		for _, c := range list {
			byName[c.Name] = c
		}
		if last := s.last.Load(); last != 0 && byName[stored].Value != strconv.FormatInt(last, 10) {
			return fmt.Errorf("the cookies of response %d are not stored yet (stored: %v)", last, names(byName))
		}
		return nil
	}))
	delete(byName, stored)
	return byName
}

func names(cs map[string]cookie) []string {
	out := []string{}
	for n := range cs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
