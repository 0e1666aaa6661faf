//go:build linux

package main

import (
	"crypto/tls"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/benchcycle"
	"github.com/cookiesession/cookiesession/internal/selfsigned"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for database/sql, which postgresstore takes
)

// impl is an implementation under test.
type impl struct {
	Name string
	// Store is where the session lives on the server: "" for a cookie
	// session, else "memory", "redis" or "postgres"; "none" for the
	// baseline, which keeps no session at all.
	Store string
}

// remote reports whether the store is reached over the network, so that
// the comparison moves it away.
func (i impl) remote() bool { return i.Store == "redis" || i.Store == "postgres" }

// baseline reports whether i is net/http alone: the same routes with no
// session, measured once, for what the machine's HTTP costs anyway.
func (i impl) baseline() bool { return i.Store == "none" }

// impls are the implementations compared: the baseline, the cookie
// sessions, the stores.
var impls = []impl{
	{"no-session", "none"},
	{"cookiesession", ""},
	{"cookiesession-compact", ""},
	{"gorilla-cookiestore", ""},
	{"scs-memstore", "memory"},
	{"scs-redis", "redis"},
	{"scs-postgres", "postgres"},
}

// secret seals the cookies of every cookie implementation; the figures do
// not depend on its value.
var secret = []byte("compare-only-secret-0001-use-GenerateSecret-instead")

// maxChunks lets a cookiesession session span enough cookies for the
// largest size swept (8 KB of JSON needs four in the securecookie format).
const maxChunks = 8

// state is what the routes keep in a session: a counter and a blob that
// gives the session its size.
type state struct {
	N    int
	Blob string
}

// emptySize is the JSON of a session with an empty blob, less the
// counter's digits: {"blob":"","n":}.
const emptySize = len(`{"blob":"","n":}`)

// size is the session's size as the JSON of its values, {"blob":…,"n":…}:
// one measure for every implementation, whatever each encodes on the wire.
// The blob is benchcycle.Filler text, which JSON does not escape.
func (s state) size() int { return emptySize + len(s.Blob) + len(strconv.Itoa(s.N)) }

// sessionAPI is what the routes need from an implementation: its
// middleware, if it has one, and a way to read and write the state.
type sessionAPI interface {
	wrap(http.Handler) http.Handler
	// load returns the request's session state; ok is false when the
	// session holds no blob (new, lost, or never stored).
	load(r *http.Request) (s state, ok bool)
	// save stores s, or returns why it cannot.
	save(w http.ResponseWriter, r *http.Request, s state) error
}

// routes are the three routes every server serves: GET /read, POST /incr
// (read-modify-write of the counter) and POST /grow?size=N (a session of N
// bytes, counter 0). Each answers "N SIZE". /read and /incr answer 412 when
// the session holds no blob: a client whose session could not be stored
// gets an error, not a fast answer on an empty session.
func routes(api sessionAPI) http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, s state) { fmt.Fprintf(w, "%d %d\n", s.N, s.size()) }
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s, ok := api.load(r)
		if !ok {
			http.Error(w, "no session", http.StatusPreconditionFailed)
			return
		}
		answer(w, s)
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s, ok := api.load(r)
		if !ok {
			http.Error(w, "no session", http.StatusPreconditionFailed)
			return
		}
		s.N++
		if err := api.save(w, r, s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		answer(w, s)
	})
	mux.HandleFunc("POST /grow", func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || size <= emptySize || size > 1<<16 {
			http.Error(w, "size must be a number of bytes from 17 to 65536", http.StatusBadRequest)
			return
		}
		s := state{N: 0, Blob: benchcycle.Filler(size - emptySize - 1)}
		if err := api.save(w, r, s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		answer(w, s)
	})
	return api.wrap(mux)
}

// newSessionAPI sets up the named implementation. redisAddr and
// postgresDSN reach the store of scs-redis and scs-postgres.
func newSessionAPI(name, redisAddr, postgresDSN string) (sessionAPI, func() error, error) {
	nothing := func() error { return nil }
	switch name {
	case "no-session":
		return noSessions{}, nothing, nil
	case "cookiesession", "cookiesession-compact":
		opts := cookiesession.Options{
			Secrets:   [][]byte{secret},
			Insecure:  true, // the servers speak plain HTTP on loopback, and Go's cookie jar keeps Secure cookies off it
			MaxChunks: maxChunks,
			// "cookiesession" is the securecookie format, the default until
			// v1.0.0, so that results stay comparable.
			Format: cookiesession.FormatSecureCookie,
		}
		if name == "cookiesession-compact" {
			opts.Format = cookiesession.FormatCompact
		}
		m, err := cookiesession.New(opts)
		if err != nil {
			return nil, nil, err
		}
		return cookieSessions{m}, nothing, nil
	case "gorilla-cookiestore":
		// The codecs keep securecookie's 4096-byte limit: a browser drops a
		// larger cookie, so a session that does not fit is an error here.
		return gorillaSessions{sessions.NewCookieStore(secret[:32], secret[len(secret)-32:])}, nothing, nil
	case "scs-memstore":
		return newSCS(memstore.New()), nothing, nil
	case "scs-redis":
		pool := &redis.Pool{
			MaxIdle: 256, // every client's request keeps its connection: no dial through the delay proxy mid-run
			Dial:    func() (redis.Conn, error) { return redis.Dial("tcp", redisAddr) },
		}
		return newSCS(redisstore.New(pool)), pool.Close, nil
	case "scs-postgres":
		db, err := sql.Open("pgx", postgresDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", postgresDSN, err)
		}
		db.SetMaxOpenConns(64)
		db.SetMaxIdleConns(64) // connections are kept, so no backend is forked mid-run
		return newSCS(postgresstore.NewWithCleanupInterval(db, 0)), db.Close, nil
	}
	return nil, nil, fmt.Errorf("no implementation named %q", name)
}

// noSessions keeps nothing: every request finds an empty blob, and /grow
// answers the size it was asked for.
type noSessions struct{}

func (noSessions) wrap(h http.Handler) http.Handler                     { return h }
func (noSessions) load(*http.Request) (state, bool)                     { return state{}, true }
func (noSessions) save(http.ResponseWriter, *http.Request, state) error { return nil }

type cookieSessions struct{ m *cookiesession.Manager }

func (c cookieSessions) wrap(h http.Handler) http.Handler { return c.m.Middleware(h) }

func (c cookieSessions) load(r *http.Request) (state, bool) {
	s := c.m.FromContext(r.Context())
	blob, ok := cookiesession.Value[string](s, "blob")
	n, _ := cookiesession.Value[int](s, "n")
	return state{n, blob}, ok
}

// save only sets the values: the middleware seals them before the header
// goes out, and answers 500 itself when the session is too large.
func (c cookieSessions) save(_ http.ResponseWriter, r *http.Request, st state) error {
	s := c.m.FromContext(r.Context())
	s.Set("n", st.N)
	s.Set("blob", st.Blob) // the same blob again is not a change
	return nil
}

type gorillaSessions struct{ store *sessions.CookieStore }

func (gorillaSessions) wrap(h http.Handler) http.Handler { return h }

func (g gorillaSessions) load(r *http.Request) (state, bool) {
	s, _ := g.store.Get(r, "session") // a cookie that does not decode is a new session
	blob, ok := s.Values["blob"].(string)
	n, _ := s.Values["n"].(int)
	return state{n, blob}, ok
}

func (g gorillaSessions) save(w http.ResponseWriter, r *http.Request, st state) error {
	s, _ := g.store.Get(r, "session") // the same session load had: gorilla keeps it per request
	s.Values["n"] = st.N
	s.Values["blob"] = st.Blob
	return s.Save(r, w)
}

type scsSessions struct{ sm *scs.SessionManager }

func newSCS(store scs.Store) scsSessions {
	sm := scs.New()
	sm.Store = store
	return scsSessions{sm}
}

func (s scsSessions) wrap(h http.Handler) http.Handler { return s.sm.LoadAndSave(h) }

func (s scsSessions) load(r *http.Request) (state, bool) {
	ctx := r.Context()
	return state{s.sm.GetInt(ctx, "n"), s.sm.GetString(ctx, "blob")}, s.sm.Exists(ctx, "blob")
}

func (s scsSessions) save(_ http.ResponseWriter, r *http.Request, st state) error {
	ctx := r.Context()
	s.sm.Put(ctx, "n", st.N)
	if s.sm.GetString(ctx, "blob") != st.Blob {
		s.sm.Put(ctx, "blob", st.Blob)
	}
	return nil // LoadAndSave commits, and answers 500 itself when the store fails
}

// server returns a server of h at endpoint e, for ServeTLS.
func (e endpoint) server(h http.Handler, cert tls.Certificate) *http.Server {
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Protocols: new(http.Protocols),
	}
	if e.HTTP2 {
		srv.Protocols.SetHTTP2(true)
		srv.HTTP2 = &http.HTTP2Config{MaxDecoderHeaderTableSize: e.Table, MaxEncoderHeaderTableSize: e.Table}
	} else {
		srv.Protocols.SetHTTP1(true)
	}
	return srv
}

// serve is the server process: `compare serve -impl NAME`. It serves the
// routes on a loopback port over plain HTTP/1.1, and on one more port per
// TLS endpoint, and prints the plain address and then each endpoint's, on
// one line, on standard output. It serves until its standard input
// closes: when the comparison stops it or ends, however it ends.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("impl", "", "the implementation to serve")
	redisAddr := fs.String("redis", "", "the Redis server (or its delay proxy) of scs-redis")
	postgresDSN := fs.String("postgres", "", "the PostgreSQL data source (through its delay proxy) of scs-postgres")
	if err := fs.Parse(args); err != nil {
		return err
	}
	api, closeStore, err := newSessionAPI(*name, *redisAddr, *postgresDSN)
	if err != nil {
		return err
	}
	cert, err := selfsigned.Certificate("127.0.0.1")
	if err != nil {
		return err
	}
	handler := routes(api)
	servers := []*http.Server{{Handler: handler, ReadHeaderTimeout: 10 * time.Second}}
	for _, e := range endpoints {
		servers = append(servers, e.server(handler, cert))
	}
	served := make(chan error, len(servers))
	var addrs []string
	for i, srv := range servers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		go func() {
			if i == 0 {
				served <- srv.Serve(ln)
			} else {
				served <- srv.ServeTLS(ln, "", "")
			}
		}()
	}
	fmt.Println(strings.Join(addrs, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Close())
	}
	for range servers {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, closeStore())...)
}
