package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

func demo(ctx context.Context, args []string, e env) error {
	fs := newFlags("demo", "[-addr 127.0.0.1:8080] [-max-chunks N] [-format F] [-insecure]",
		"cookiesession demo -max-chunks 3   # then open http://127.0.0.1:8080", e)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	maxChunks := fs.Int("max-chunks", 1, "cookies one session may span (Options.MaxChunks)")
	format := fs.String("format", "securecookie", "session `format`: securecookie, compact, sign-only or express")
	insecure := fs.Bool("insecure", false, "drop the Secure attribute, to test from hosts other than localhost over plain HTTP")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	f, err := parseFormat(*format)
	if err != nil {
		return usageError{err}
	}

	keys, err := keysFrom("", e)
	if err != nil {
		keys = [][]byte{[]byte(cookiesession.GenerateKey())}
		fmt.Fprintf(e.stderr, "cookiesession demo: %s is not set; using a throw-away key, so sessions will not survive a restart\n", keysEnv)
	}
	h, err := newDemo(cookiesession.Options{Keys: keys, MaxChunks: *maxChunks, Format: f, Insecure: *insecure})
	if err != nil {
		return usageError{err} // the flags (or the keys) do not make a valid configuration
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !*insecure && !isLoopback(host) {
		fmt.Fprintln(e.stderr, "cookiesession demo: browsers send Secure cookies over plain HTTP only to localhost; add -insecure to try it from other hosts")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "cookiesession demo: listening on http://%s (Ctrl-C to stop)\n", ln.Addr())
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
	return 0, fmt.Errorf("unknown format %q (want securecookie, compact, sign-only or express)", s)
}

// demoApp is the demo site: a visit counter, a note of any size, log in and
// log out, and a view of the cookies behind it all.
type demoApp struct {
	m       *cookiesession.Manager
	opts    cookiesession.Options
	revoked *cookiesession.MemoryRevocations // nil for FormatExpress, which has no IDs
}

func newDemo(opts cookiesession.Options) (http.Handler, error) {
	app := &demoApp{opts: opts}
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
	mux.HandleFunc("POST /note", app.note)
	mux.HandleFunc("POST /login", app.login)
	mux.HandleFunc("POST /logout", app.logout)
	mux.HandleFunc("POST /logout-everywhere", app.logoutEverywhere)
	return m.Middleware(mux), nil
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *demoApp) logout(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	s.Destroy()
	s.AddFlash("Logged out: the old session's cookies were deleted.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// cookieView is one cookie of the request, as the page shows it.
type cookieView struct {
	Name  string
	Bytes int
	Value string
}

func (a *demoApp) home(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	// What the request carried, verified separately to show which key and
	// format it used.
	inspected, inspectErr := a.m.Inspect(r.Header.Values("Cookie")...)
	isNew := s.IsNew()
	visits, _ := cookiesession.Value[int](s, "visits")
	s.Set("visits", visits+1)
	flashes := s.Flashes()

	// Save explicitly, so the page can show the Set-Cookie lines of its
	// own response; the middleware then has nothing left to write.
	if err := a.m.Save(w, s); err != nil {
		a.tooLarge(w, r, err)
		return
	}
	values := map[string]any{}
	for _, k := range s.Keys() {
		var raw json.RawMessage
		s.Get(k, &raw)
		values[k] = raw
		if len(raw) > 120 {
			values[k] = fmt.Sprintf("%s… (%d bytes of JSON)", raw[:60], len(raw))
		}
	}
	valuesJSON, _ := json.MarshalIndent(values, "", "  ")
	user, _ := cookiesession.Value[string](s, "user")
	note, _ := cookiesession.Value[string](s, "note")

	data := map[string]any{
		"Flashes":    flashes,
		"Visits":     visits + 1,
		"User":       user,
		"NoteBytes":  len(note),
		"New":        isNew,
		"ID":         s.ID(),
		"Created":    s.CreatedAt().UTC().Format(time.RFC3339),
		"Expires":    s.ExpiresAt().UTC().Format(time.RFC3339),
		"Values":     string(valuesJSON),
		"Received":   a.received(r),
		"SetCookies": w.Header().Values("Set-Cookie"),
		"Inspected":  inspected,
		"InspectErr": inspectErr,
		"Opts":       a.opts,
		"Format":     a.opts.Format.String(),
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := homePage.Execute(w, data); err != nil {
		slog.ErrorContext(r.Context(), "cookiesession demo: render", "err", err)
	}
}

// received lists the request's session cookies: the head and its chunks.
func (a *demoApp) received(r *http.Request) []cookieView {
	name := cmp.Or(a.opts.Name, cookiesession.DefaultName)
	var views []cookieView
	for _, c := range r.Cookies() {
		if c.Name == name || strings.HasPrefix(c.Name, name+".") {
			views = append(views, cookieView{c.Name, len(c.Name) + 1 + len(c.Value), abbreviate(c.Value)})
		}
	}
	return views
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
	_ = errorPage.Execute(w, map[string]any{"Err": err.Error(), "Size": size, "MaxChunks": cmp.Or(a.opts.MaxChunks, 1)})
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cookiesession demo</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
pre, code, td.v { font: 13px ui-monospace, monospace; }
pre { background: #f4f4f4; padding: .6rem; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
.flash { background: #e8f5e9; padding: .5rem; border-left: 4px solid #43a047; }
form { display: inline-block; margin: .2rem 1rem .2rem 0; }
</style></head><body>
<h1>cookiesession demo</h1>
{{range .Flashes}}<p class="flash">{{.}}</p>{{end}}
<p>This is visit <strong id="visits">{{.Visits}}</strong> of this session.
{{if .User}}You are logged in as <strong id="user">{{.User}}</strong>.{{else}}You are not logged in.{{end}}
The note holds <span id="note-bytes">{{.NoteBytes}}</span> bytes.</p>

<form method="post" action="/login"><input name="user" placeholder="name" value="ada"> <button>Log in</button></form>
<form method="post" action="/logout"><button>Log out (destroy)</button></form>
<form method="post" action="/logout-everywhere"><button>Log out everywhere (revoke)</button></form>
<br>
<form method="post" action="/note"><textarea name="note" rows="2" cols="50" placeholder="a note of any size"></textarea> <button>Store note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="6000"><button>Store a 6 KB note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="20"><button>Shrink the note</button></form>
<form method="post" action="/note"><input type="hidden" name="size" value="0"><button>Delete the note</button></form>

<h2>This request's session</h2>
<table>
<tr><th>new</th><td>{{.New}}</td></tr>
<tr><th>id</th><td class="v">{{.ID}}</td></tr>
<tr><th>created</th><td>{{.Created}}</td></tr>
<tr><th>expires</th><td>{{.Expires}}</td></tr>
<tr><th>received</th><td>{{with .InspectErr}}{{.}}{{else}}{{with .Inspected}}format {{.Format}}, verified by key {{.KeyIndex}}, {{.Chunks}} cookie(s), {{.Bytes}} encoded bytes{{end}}{{end}}</td></tr>
<tr><th>configuration</th><td>format {{.Format}}, MaxChunks {{if .Opts.MaxChunks}}{{.Opts.MaxChunks}}{{else}}1{{end}}, 4096 bytes per cookie</td></tr>
</table>
<h3>Values</h3>
<pre id="values">{{.Values}}</pre>

<h2>Cookies</h2>
<h3>Received (Cookie header)</h3>
<table id="received"><tr><th>cookie</th><th>bytes</th><th>value</th></tr>
{{range .Received}}<tr><td>{{.Name}}</td><td>{{.Bytes}}</td><td class="v">{{.Value}}</td></tr>{{else}}<tr><td colspan="3">none</td></tr>{{end}}
</table>
<h3>Sent (Set-Cookie headers of this response)</h3>
<table id="sent"><tr><th>bytes</th><th>Set-Cookie</th></tr>
{{range .SetCookies}}<tr><td>{{len .}}</td><td class="v">{{printf "%.100s" .}}{{if gt (len .) 100}}…{{end}}</td></tr>{{else}}<tr><td colspan="2">none: nothing changed</td></tr>{{end}}
</table>
</body></html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Session too large</title></head>
<body style="font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto">
<h1>The session could not be saved</h1>
<p id="error">{{.Err}}</p>
{{with .Size}}<p>The session needs {{.Size}} bytes of cookie value; {{.MaxChunks}} cookie(s) of {{.Budget}} bytes hold {{.Max}}.
Browsers would silently drop a larger cookie, so cookiesession refused to write it and your previous session is unchanged.
Restart the demo with <code>-max-chunks 3</code> to split large sessions across cookies.</p>{{end}}
<p><a href="/">Back</a></p>
</body></html>
`))
