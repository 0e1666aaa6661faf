package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/selfsigned"
)

func demo(ctx context.Context, args []string, e env) error {
	fs := newFlags("demo", "[-addr 127.0.0.1:8080] [-max-chunks N] [-format F] [-secrets-file FILE] [-https | -insecure]",
		"cookiesession demo -max-chunks 3   # then open http://127.0.0.1:8080", e)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	maxChunks := fs.Int("max-chunks", 1, "cookies one session may span (Options.MaxChunks)")
	format := fs.String("format", "compact", "session `format`: compact, securecookie, sign-only or express")
	insecure := fs.Bool("insecure", false, "drop the Secure attribute, to test over plain HTTP from Safari or from hosts other than localhost")
	https := fs.Bool("https", false, "serve HTTPS with a throw-away self-signed certificate (the browser warns about it once)")
	secretsFile := fs.String("secrets-file", "", "read the secrets from `FILE` and keep them current as it changes: edit it to try a rotation live")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *https && *insecure {
		return usageError{errors.New("-https and -insecure do not go together: over HTTPS, keep Secure")}
	}
	f, err := parseFormat(*format)
	if err != nil {
		return usageError{err}
	}

	secrets, err := secretsFrom(*secretsFile, e)
	switch {
	case errors.Is(err, errSecretsUnset):
		secret := cookiesession.GenerateSecret()
		secrets = [][]byte{secret}
		fmt.Fprintf(e.stderr, "cookiesession demo: %s is not set, so this run uses a new secret, and sessions end with it. To keep them across restarts:\n  export %s=%s\n", secretsEnv, secretsEnv, secret)
	case err != nil:
		return usageError{err}
	}
	h, err := newDemo(cookiesession.Options{Secrets: secrets, MaxChunks: *maxChunks, Format: f, Insecure: *insecure})
	if err != nil {
		return usageError{err} // the flags (or the secrets) do not make a valid configuration
	}
	if *secretsFile != "" {
		go func() { _ = h.m.WatchSecretsFile(ctx, *secretsFile, time.Second) }()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	switch {
	case *https:
		cert, err := selfsigned.Certificate(host)
		if err != nil {
			ln.Close()
			return err
		}
		// HTTP/2 as well, as browsers speak it to HTTPS sites: the e2e
		// suite measures what a browser sends the demo over it.
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	case *insecure:
	case isLoopback(host):
		// Measured in e2e/: Chromium and Firefox keep Secure cookies from
		// http://localhost, WebKit does not.
		fmt.Fprintln(e.stderr, "cookiesession demo: Safari and other WebKit browsers keep no Secure cookie from http://localhost; use -https (or -insecure) there")
	default:
		fmt.Fprintln(e.stderr, "cookiesession demo: browsers send Secure cookies over plain HTTP only to localhost; use -https (or -insecure) to try it from other hosts")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "cookiesession demo: listening on %s://%s (Ctrl-C to stop)\n", scheme, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func parseFormat(s string) (cookiesession.Format, error) {
	for _, f := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatCompact, cookiesession.FormatSignOnly, cookiesession.FormatExpress} {
		if s == f.String() {
			return f, nil
		}
	}
	return nil, fmt.Errorf("unknown format %q (want securecookie, compact, sign-only or express)", s)
}

// formatName names f, or the default format when f is nil.
func formatName(f cookiesession.Format) string {
	if f == nil {
		return cookiesession.FormatCompact.String() // the default
	}
	return f.String()
}

// demoApp is the demo site: a visit counter, a note of any size, log in,
// log out (here and everywhere), and a view of the cookies behind it all.
type demoApp struct {
	m       *cookiesession.Manager
	handler http.Handler
	opts    cookiesession.Options
	revoked *cookiesession.MemoryRevocations // nil for FormatExpress, which has no IDs

	// The Set-Cookie lines of recent POST responses, for the page the
	// browser is redirected to, which shows them: that is where chunks are
	// deleted on shrink and cookies cleared on logout.
	mu   sync.Mutex
	prev map[string][]string // token -> lines
	keys []string            // tokens, oldest first
}

// maxPrev bounds the POST responses the demo remembers.
const maxPrev = 1000

// ServeHTTP serves the demo site.
func (a *demoApp) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

func newDemo(opts cookiesession.Options) (*demoApp, error) {
	app := &demoApp{opts: opts, prev: map[string][]string{}}
	// A session too large for its cookies gets a page that says so, with
	// the sizes, rather than a bare 500.
	opts.ErrorHandler = app.tooLarge
	if opts.Format != cookiesession.FormatExpress {
		// One process, so the in-memory list; replicas would share one
		// through the redisrevocation module.
		app.revoked = cookiesession.NewMemoryRevocations()
		opts.Revocations = app.revoked
	}
	m, err := cookiesession.New(opts)
	if err != nil {
		return nil, err
	}
	app.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", app.home)
	mux.HandleFunc("GET /read", app.home)
	mux.HandleFunc("POST /note", app.note)
	mux.HandleFunc("POST /login", app.login)
	mux.HandleFunc("POST /logout", app.logout)
	mux.HandleFunc("POST /logout-everywhere", app.logoutEverywhere)
	// Forms on other origins cannot post here (CSRF), not even from a
	// sibling subdomain, which SameSite=Lax lets through.
	app.handler = http.NewCrossOriginProtection().Handler(m.Middleware(mux))
	return app, nil
}

// secretView is a row of the demo's rotation panel.
type secretView struct {
	Index       int
	Fingerprint string
	Verified    uint64
	Last        string
	Removable   string // "" for the first secret
}

// countsView is the demo's panel: what the Manager counted, and whether
// each older secret can go, judged against MaxAge.
func (a *demoApp) countsView() map[string]any {
	c := a.m.Counts()
	var secrets []secretView
	for i, s := range c.Secrets {
		v := secretView{Index: i, Fingerprint: s.Fingerprint, Verified: s.Verified, Last: "never"}
		if !s.LastVerified.IsZero() {
			v.Last = time.Since(s.LastVerified).Round(time.Second).String() + " ago"
		}
		if i > 0 {
			ok, why := a.m.SafeToRemove(i, cmp.Or(a.opts.MaxAge, 24*time.Hour))
			v.Removable = map[bool]string{true: "safe to remove: ", false: "keep: "}[ok] + why
		}
		secrets = append(secrets, v)
	}
	refused := map[string]uint64{}
	for r, n := range c.Refused {
		if n > 0 {
			refused[r.String()] = n
		}
	}
	return map[string]any{"C": c, "Secrets": secrets, "Refused": refused, "Since": c.SigningSince.UTC().Format(time.RFC3339)}
}

// done saves the session of a POST, keeps the Set-Cookie lines it
// produced for the next page, and redirects there.
func (a *demoApp) done(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Save(w, a.m.FromContext(r.Context())); err != nil {
		a.tooLarge(w, r, err)
		return
	}
	token := string(cookiesession.GenerateSecret()[:16])
	a.mu.Lock()
	if len(a.keys) == maxPrev {
		delete(a.prev, a.keys[0])
		a.keys = a.keys[1:]
	}
	a.prev[token] = w.Header().Values("Set-Cookie")
	a.keys = append(a.keys, token)
	a.mu.Unlock()
	http.Redirect(w, r, "/?prev="+token+"&after="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
}

func (a *demoApp) note(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	note := r.FormValue("note")
	if size := r.FormValue("size"); size != "" {
		var n int
		if _, err := fmt.Sscan(size, &n); err != nil || n < 0 || n > 1<<20 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		note = filler(n)
	}
	if note == "" {
		s.Delete("note")
	} else {
		s.Set("note", note)
	}
	s.AddFlash(fmt.Sprintf("Stored a note of %d bytes.", len(note)))
	a.done(w, r)
}

// filler returns n bytes of text that compresses badly, like real notes.
func filler(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%x ", uint32(i)*2654435761)
	}
	return b.String()[:n]
}

func (a *demoApp) login(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	s.Renew() // a new ID at every change of privilege
	user := cmp.Or(strings.TrimSpace(r.FormValue("user")), "ada")
	s.Set("user", user)
	if a.revoked != nil {
		s.SetSubject(user) // so that "log out everywhere" finds this session
	}
	s.AddFlash("Logged in; the session got a new ID.")
	a.done(w, r)
}

func (a *demoApp) logout(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	s.Destroy()
	s.AddFlash("Logged out: the old session's cookies were deleted.")
	a.done(w, r)
}

// logoutEverywhere revokes every session of the logged-in user created
// before now, in every browser: a copy of the cookie taken earlier gets a
// new session from now on.
func (a *demoApp) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	user := s.Subject()
	switch {
	case a.revoked == nil:
		s.AddFlash("FormatExpress cookies carry no ID or subject, so they cannot be revoked.")
	case user == "":
		s.AddFlash("Log in first: revocation finds a user's sessions by the subject set at login.")
	default:
		if err := a.m.RevokeSubject(r.Context(), user); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Destroy()
		s.AddFlash(fmt.Sprintf("Logged out everywhere: every session of %s created before now is refused, in this browser and any other, even from a copied cookie (%d entries in the revocation list).", user, a.revoked.Len()))
	}
	a.done(w, r)
}

// cookieLine is one cookie of the request, or one Set-Cookie line of a
// response, as the page shows it: its size against the 4,096-byte budget.
type cookieLine struct {
	Name     string
	Text     string // the line, its value shortened in the middle
	Bytes    int
	Percent  int // of the per-cookie budget, at most 100
	Deletion bool
}

func newCookieLine(name, text string, bytes int, deletion bool) cookieLine {
	return cookieLine{name, text, bytes, min(100, bytes*100/cookieBudget), deletion}
}

// setCookieLines turns Set-Cookie header values into cookieLines.
func setCookieLines(lines []string) []cookieLine {
	out := make([]cookieLine, len(lines))
	for i, line := range lines {
		nameValue, attrs, _ := strings.Cut(line, ";")
		name, value, _ := strings.Cut(nameValue, "=")
		out[i] = newCookieLine(name, name+"="+abbreviate(value)+";"+attrs, len(line), strings.Contains(attrs, "Max-Age=0"))
	}
	return out
}

// proxyHeaderLimit is what nginx and Apache allow for one request header
// line by default: the whole Cookie header must fit.
const proxyHeaderLimit = 8192

// cookieBudget is the default per-cookie budget, Options.MaxCookieSize:
// the whole Set-Cookie line, 4096 bytes.
const cookieBudget = 4096

func (a *demoApp) home(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	justRead := r.URL.Path == "/read"
	// What the request carried, verified separately to show which key and
	// format it used.
	inspected, inspectErr := a.m.Inspect(r.Header.Values("Cookie")...)
	isNew := s.IsNew()
	visits, _ := cookiesession.Value[int](s, "visits")
	var flashes []string
	if !justRead {
		visits++
		s.Set("visits", visits)
		flashes = s.Flashes()
	}

	// Save explicitly, so the page can show the Set-Cookie lines of its
	// own response; the middleware then has nothing left to write.
	if err := a.m.Save(w, s); err != nil {
		a.tooLarge(w, r, err)
		return
	}
	a.mu.Lock()
	prev := a.prev[r.URL.Query().Get("prev")]
	a.mu.Unlock()
	user, _ := cookiesession.Value[string](s, "user")
	note, _ := cookiesession.Value[string](s, "note")
	received, headerBytes := a.received(r)
	express := a.opts.Format == cookiesession.FormatExpress

	data := map[string]any{
		"Flashes":     flashes,
		"JustRead":    justRead,
		"Visits":      visits,
		"User":        user,
		"NoteBytes":   len(note),
		"New":         isNew,
		"Express":     express,
		"ID":          s.ID(),
		"Created":     s.Created().UTC().Format(time.RFC3339),
		"Expires":     s.Expires().UTC().Format(time.RFC3339),
		"Values":      a.values(s),
		"Received":    received,
		"HeaderBytes": headerBytes,
		"HeaderPct":   min(100, headerBytes*100/proxyHeaderLimit),
		"Sent":        setCookieLines(w.Header().Values("Set-Cookie")),
		"Prev":        setCookieLines(prev),
		"PrevAfter":   r.URL.Query().Get("after"),
		"Inspected":   inspected,
		"Reason":      plainReason(inspectErr),
		"Opts":        a.opts,
		"MaxChunks":   cmp.Or(a.opts.MaxChunks, 1),
		"Format":      formatName(a.opts.Format),
		"Counts":      a.countsView(),
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := homePage.Execute(w, data); err != nil {
		slog.ErrorContext(r.Context(), "cookiesession demo: render", "err", err)
	}
}

// valueView is one stored value: text as text, anything else as JSON.
type valueView struct{ Key, Shown string }

func (a *demoApp) values(s *cookiesession.Session) []valueView {
	var out []valueView
	for _, k := range s.Keys() {
		var raw json.RawMessage
		s.Get(k, &raw)
		shown := string(raw)
		var text string
		if json.Unmarshal(raw, &text) == nil {
			shown = text
			if len(text) > 120 {
				shown = fmt.Sprintf("%s… (%d characters)", text[:60], len(text))
			}
		} else if len(raw) > 120 {
			shown = fmt.Sprintf("%s… (%d bytes of JSON)", raw[:60], len(raw))
		}
		out = append(out, valueView{k, shown})
	}
	return out
}

// plainReason says in a sentence why the request's cookies gave no
// session, or "" when they did.
func plainReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, http.ErrNoCookie):
		return "No session cookie came with this request, so it started a new session."
	case errors.Is(err, cookiesession.ErrExpired):
		return "The session cookie had expired (the time inside it, not the browser's Max-Age, decides), so this request started a new session."
	case errors.Is(err, cookiesession.ErrChunkMissing):
		return "The session came without one of its chunk cookies: a proxy or client dropped it, usually because the Cookie header grew past its limit (curl sends at most 8,190 bytes of it, nginx and Apache accept 8 KB). This request started a new session."
	case errors.Is(err, cookiesession.ErrRevoked):
		return "The session cookie verified, but its session was revoked (log out everywhere), so this request started a new session."
	}
	return "The session cookie did not verify: another secret, a changed byte, or not one of ours. This request started a new session and the response deletes it."
}

// received lists the request's session cookies (the head and its chunks)
// and the length of the whole Cookie header.
func (a *demoApp) received(r *http.Request) ([]cookieLine, int) {
	name := cmp.Or(a.opts.Name, "session")
	var views []cookieLine
	for _, c := range r.Cookies() {
		if c.Name == name || strings.HasPrefix(c.Name, name+".") {
			views = append(views, newCookieLine(c.Name, c.Name+"="+abbreviate(c.Value), len(c.Name)+1+len(c.Value), false))
		}
	}
	return views, len(strings.Join(r.Header.Values("Cookie"), "; "))
}

func abbreviate(s string) string {
	if len(s) <= 60 {
		return s
	}
	return s[:40] + "…" + s[len(s)-12:]
}

func (a *demoApp) tooLarge(w http.ResponseWriter, _ *http.Request, err error) {
	status := http.StatusInternalServerError
	var size *cookiesession.SizeError
	if errors.As(err, &size) {
		status = http.StatusRequestEntityTooLarge
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, map[string]any{"Err": err.Error(), "Size": size, "Advice": advice(a.opts, size)})
}

// advice says what would let a session of this size be stored, given how
// the demo runs: only what it does not do already.
func advice(opts cookiesession.Options, size *cookiesession.SizeError) []string {
	out := []string{"Store a smaller note: a session should hold IDs and small values, and keep the rest on the server."}
	if size == nil {
		return out
	}
	if opts.Format == cookiesession.FormatExpress {
		return append(out, "FormatExpress cannot split a session across cookies, since Express could not join them; moving to an encrypted format (-format compact) is the way to more room.")
	}
	if opts.Format != nil && opts.Format != cookiesession.FormatCompact { // nil: the default, compact
		out = append(out, "Use the compact format (-format compact): it encodes once instead of twice and holds about a third more per cookie.")
	}
	perCookie := max(1, size.Max/max(1, size.MaxChunks))
	need := (size.Size + perCookie - 1) / perCookie
	switch {
	case need > 16:
		out = append(out, fmt.Sprintf("More cookies would not do: this needs about %d, beyond the limit of 16.", need))
	case need*cookieBudget > proxyHeaderLimit:
		out = append(out, fmt.Sprintf("Allow more cookies (restart with -max-chunks %d): but %d cookies of up to 4 KB exceed the 8 KB that nginx and Apache allow for the whole Cookie header, so requests would fail there.", need, need))
	default:
		out = append(out, fmt.Sprintf("Allow more cookies: restart with -max-chunks %d.", need))
	}
	return append(out, "Options.Compress deflates the JSON first; it helps with repetitive data (the demo's generated notes barely compress), and is unsafe when a session mixes secrets with text an attacker chooses.")
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cookiesession demo</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
pre, code, td.v { font: 13px ui-monospace, monospace; word-break: break-all; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; vertical-align: top; }
.flash { background: #e8f5e9; padding: .5rem; border-left: 4px solid #43a047; }
.why { background: #fff8e1; padding: .5rem; border-left: 4px solid #f9a825; }
form { display: inline-block; margin: .2rem 1rem .2rem 0; }
.meter { width: 12rem; height: .8rem; background: #eee; border: 1px solid #bbb; }
.bar { height: 100%; background: #3b6ea5; } .bar.full { background: #c62828; }
tr.deletion td { color: #777; }
</style></head><body>
<h1>cookiesession demo</h1>
{{range .Flashes}}<p class="flash">{{.}}</p>{{end}}
{{with .Reason}}<p class="why" id="reason">{{.}}</p>{{end}}
<p>This is visit <strong id="visits">{{.Visits}}</strong> of this session.
{{if .User}}You are logged in as <strong id="user">{{.User}}</strong>.{{else}}You are not logged in.{{end}}
The note holds <span id="note-bytes">{{.NoteBytes}}</span> bytes.</p>

<form method="post" action="/login"><input name="user" placeholder="name" value="ada"> <button>Log in</button></form>
<form method="post" action="/logout"><button>Log out (destroy)</button></form>
<form method="post" action="/logout-everywhere"><button>Log out everywhere (revoke)</button></form>
<a id="just-read" href="/read">Just read (change nothing)</a> · <a href="/">Count a visit</a>
<br>
<form method="post" action="/note"><textarea name="note" rows="2" cols="50" placeholder="a note of any size"></textarea> <button>Store note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="6000"><button>Store a 6 KB note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="20"><button>Shrink the note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="0"><button>Delete the note</button></form>

<details id="explain" open><summary><strong>What am I looking at?</strong></summary>
<p>The whole session lives in the cookies below: its values (as JSON){{if not .Express}}, an ID, and its creation and expiry times{{end}},
{{if eq .Format "sign-only"}}signed{{else if .Express}}signed the way Express's cookie-session does{{else}}encrypted and signed{{end}} into the cookie value.
The server keeps nothing. <em>Encoded bytes</em> is the size of that value: in the compact format, the default, the JSON gains a
nonce and a tag and is base64-encoded once, so it grows by about 1.35×: 6,000 bytes of note need about 8,200 bytes of cookies,
more than two cookies of 4,096 bytes hold. The securecookie format encodes twice (inside securecookie and around it) and grows by about 1.8×.
<em>Verified by secret 0</em> means the first secret in COOKIESESSION_SECRETS opened it; a cookie an older secret opened is re-issued with secret 0 on the same response.</p>
<p>A response sends <code>Set-Cookie</code> only when the session changed: <a href="/read">Just read</a> shows one that sends none.
Browsers silently drop a cookie over 4,096 bytes, so the package refuses to write one and splits larger sessions into chunks, up to
-max-chunks; and proxies such as nginx refuse a <code>Cookie</code> header over 8 KB, so the bars below show both budgets.</p>
</details>

<h2>This request's session</h2>
<table id="session">
<tr><th>new</th><td>{{.New}}</td></tr>
{{if not .Express}}<tr><th>id</th><td class="v">{{.ID}}</td></tr>
<tr><th>created</th><td>{{.Created}}</td></tr>
<tr><th>expires</th><td>{{.Expires}}</td></tr>{{end}}
<tr><th>received</th><td>{{with .Inspected}}{{if not $.Reason}}format {{.Format}}, verified by secret {{.SecretIndex}}, {{.Chunks}} cookie(s), {{.Bytes}} encoded bytes{{end}}{{end}}{{if .Reason}}no valid session{{end}}</td></tr>
<tr><th>configuration</th><td>format {{.Format}}, MaxChunks {{.MaxChunks}}, 4096 bytes per cookie</td></tr>
</table>
<h3>Values</h3>
<table id="values">{{range .Values}}<tr><th>{{.Key}}</th><td class="v">{{.Shown}}</td></tr>{{else}}<tr><td>none</td></tr>{{end}}</table>

<h2>Cookies</h2>
<h3>Received (Cookie header of this request)</h3>
<table id="received"><tr><th>cookie</th><th>bytes</th><th>of 4,096</th><th>value</th></tr>
{{range .Received}}<tr><td>{{.Name}}</td><td>{{.Bytes}}</td><td><div class="meter"><div class="bar{{if ge .Percent 100}} full{{end}}" style="width: {{.Percent}}%"></div></div></td><td class="v">{{.Text}}</td></tr>{{else}}<tr><td colspan="4">none</td></tr>{{end}}
</table>
<p id="header-budget">The whole Cookie header: {{.HeaderBytes}} of the 8,192 bytes a proxy allows
<span class="meter" style="display: inline-block"><span class="bar{{if ge .HeaderPct 100}} full{{end}}" style="display: block; width: {{.HeaderPct}}%"></span></span></p>

<h3>Sent (Set-Cookie lines of this response)</h3>
<table id="sent"><tr><th>bytes</th><th>of 4,096</th><th>Set-Cookie</th></tr>
{{range .Sent}}<tr{{if .Deletion}} class="deletion"{{end}}><td>{{.Bytes}}</td><td><div class="meter"><div class="bar" style="width: {{.Percent}}%"></div></div></td><td class="v">{{.Text}}</td></tr>{{else}}<tr><td colspan="3">none: nothing changed, so no Set-Cookie was sent{{if .JustRead}} (this page only read the session){{end}}</td></tr>{{end}}
</table>
{{if .PrevAfter}}<h3>Sent by the previous response (POST {{.PrevAfter}}, before the redirect)</h3>
<table id="prev-sent"><tr><th>bytes</th><th>of 4,096</th><th>Set-Cookie</th></tr>
{{range .Prev}}<tr{{if .Deletion}} class="deletion"{{end}}><td>{{.Bytes}}</td><td><div class="meter"><div class="bar" style="width: {{.Percent}}%"></div></div></td><td class="v">{{.Text}}{{if .Deletion}} <strong>(deletes {{.Name}})</strong>{{end}}</td></tr>{{else}}<tr><td colspan="3">none</td></tr>{{end}}
</table>{{end}}

{{with .Counts}}<h2>What the Manager counted</h2>
<p>Manager.Counts, since the demo started: what an operator would export as metrics.
The first secret has sealed every cookie since {{.Since}}.</p>
<table id="secrets"><tr><th>secret</th><th>fingerprint</th><th>verified</th><th>last</th><th>rotation</th></tr>
{{range .Secrets}}<tr><td>{{.Index}}</td><td>{{.Fingerprint}}</td><td>{{.Verified}}</td><td>{{.Last}}</td><td>{{if .Removable}}{{.Removable}}{{else}}seals every cookie{{end}}</td></tr>{{end}}
</table>
<p id="counts">Sessions without a cookie: {{.C.NoCookie}}; refused: {{range $reason, $n := .Refused}}{{$reason}} {{$n}}; {{else}}none; {{end}}
saves that wrote: {{.C.Written}} ({{.C.Cookies}} cookies), unchanged: {{.C.Unchanged}}, deleted: {{.C.Deleted}}, too large: {{.C.TooLarge}}.</p>{{end}}
</body></html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Session too large</title></head>
<body style="font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto">
<h1>The session could not be saved</h1>
{{with .Size}}<p id="sizes">The session needs {{.Size}} bytes of cookie value; {{.MaxChunks}} cookie(s) of {{.Budget}} bytes hold {{.Max}}.
Browsers would silently drop a larger cookie, so cookiesession refused to write it, and your previous session is unchanged.</p>{{end}}
<p>What would help:</p>
<ul id="advice">{{range .Advice}}<li>{{.}}</li>{{end}}</ul>
<p><small id="error">{{.Err}}</small></p>
<p><a href="/">Back</a></p>
</body></html>
`))
