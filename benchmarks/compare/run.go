//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// plan is what a run measures, and how long each part takes.
type plan struct {
	Sizes     []int           // session sizes, JSON bytes
	Distances []time.Duration // round-trip times added between server and store
	Clients   int             // virtual clients, each with its own jar
	Rate      int             // requests a second of the fixed-rate phases
	Warmup    time.Duration   // at Rate, then half as long flat out; not measured
	AtRate    time.Duration   // each fixed-rate phase
	FlatOut   time.Duration   // each closed-loop phase
	// SameJarWorkers requests at a time, SameJarRequests in all, from one
	// client: the lost-update test of concurrent requests with one cookie.
	SameJarWorkers, SameJarRequests int
	// WireRounds requests of each route are counted on the wire, per
	// protocol, after the load.
	WireRounds int
}

// fullPlan takes about 8 minutes on the 2-core machine; quickPlan about
// 1.5.
var (
	fullPlan = plan{
		Sizes:     []int{64, 512, 2048, 3584, 8192},
		Distances: []time.Duration{0, time.Millisecond, 5 * time.Millisecond},
		Clients:   32, Rate: 400,
		Warmup: 300 * time.Millisecond, AtRate: 2500 * time.Millisecond, FlatOut: 1500 * time.Millisecond,
		SameJarWorkers: 8, SameJarRequests: 200, WireRounds: 20,
	}
	quickPlan = plan{
		Sizes:     []int{64, 2048, 8192},
		Distances: []time.Duration{0, 5 * time.Millisecond},
		Clients:   32, Rate: 400,
		Warmup: 100 * time.Millisecond, AtRate: 700 * time.Millisecond, FlatOut: 400 * time.Millisecond,
		SameJarWorkers: 8, SameJarRequests: 80, WireRounds: 5,
	}
)

// phase is what one phase of a row measured.
type phase struct {
	Route string // read or incr
	// Mode is "rate" (the plan's fixed rate) or "closed" (every client
	// flat out).
	Mode     string
	Requests int
	Errors   int
	FirstErr string  `json:",omitempty"`
	Seconds  float64 // wall time of the phase
	PerSec   float64 // successful requests a second
	P50us    float64
	P99us    float64
	// ServerCPUus and StoreCPUus are CPU time per request, in µs, of
	// the server process and of the store's processes (Redis's, or
	// PostgreSQL's postmaster and its children).
	ServerCPUus, StoreCPUus float64
	// ServerBusy is the server's CPU time over the phase's wall time: 1
	// is its core saturated.
	ServerBusy float64
	// Per request, as the client sent and received them.
	CookieB, SetCookieB, RequestB, ResponseB float64
}

// row is one implementation at one session size and store distance.
type row struct {
	Impl  string
	Store string // "" for a cookie session
	Size  int    // session JSON bytes
	RTTms int    // added round-trip time to the store; 0 without one
	// GrowErrors counts the clients whose session could not be made.
	GrowErrors, Clients int
	GrowErr             string `json:",omitempty"`
	Phases              []phase
	// OwnJars: each client incremented its own counter, one request at
	// a time; Expected is what the server acknowledged, Final what the
	// counters read at the end, summed.
	OwnJars struct{ Expected, Final int }
	// SameJar: one client, its requests concurrent.
	SameJar struct{ Workers, Sent, Expected, Final, Errors int }
	// Cookies is how many cookies the session's requests carried, and
	// Wire what a request of each route cost on the connection over TLS,
	// per protocol, with a browser's headers.
	Cookies int
	Wire    []wireFigure
}

// wire returns the row's figure of a route in a protocol, or nil.
func (r *row) wire(route, proto string) *wireFigure {
	for i := range r.Wire {
		if r.Wire[i].Route == route && r.Wire[i].Proto == proto {
			return &r.Wire[i]
		}
	}
	return nil
}

func (r *row) phase(route, mode string) *phase {
	for i := range r.Phases {
		if r.Phases[i].Route == route && r.Phases[i].Mode == mode {
			return &r.Phases[i]
		}
	}
	return nil
}

// stores are the store servers of a run, and the delay proxies in front.
type stores struct {
	redis    *child
	postgres *postgres
	// addrs maps a store and a distance to the address the server uses.
	addrs   map[string]map[time.Duration]string
	proxies []*delayProxy
	tmp     string
}

func startStores(ctx context.Context, p plan) (_ *stores, err error) {
	s := &stores{addrs: map[string]map[time.Duration]string{"redis": {}, "postgres": {}}}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop())
		}
	}()
	if s.tmp, err = os.MkdirTemp("", "compare-redis-"); err != nil {
		return s, err
	}
	var redisAddr string
	if s.redis, redisAddr, err = startRedis(ctx, s.tmp); err != nil {
		return s, err
	}
	if s.postgres, err = startPostgres(ctx); err != nil {
		return s, err
	}
	for store, addr := range map[string]string{"redis": redisAddr, "postgres": s.postgres.Addr} {
		for _, d := range p.Distances {
			if d == 0 {
				s.addrs[store][d] = addr // the loopback itself: no proxy
				continue
			}
			proxy, err := startDelayProxy(addr, d)
			if err != nil {
				return s, err
			}
			s.proxies = append(s.proxies, proxy)
			s.addrs[store][d] = proxy.Addr
		}
	}
	return s, nil
}

// stop stops every proxy and server, by PID, and removes their files.
func (s *stores) stop() error {
	var errs []error
	for _, p := range s.proxies {
		errs = append(errs, p.stop())
	}
	if s.postgres != nil {
		errs = append(errs, s.postgres.stop())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.stop(syscall.SIGTERM))
	}
	if s.tmp != "" {
		errs = append(errs, os.RemoveAll(s.tmp))
	}
	return errors.Join(errs...)
}

// storeRTT is a store's round trip through its delay proxy (or none),
// measured with nothing else running.
type storeRTT struct {
	Store   string
	AskedMs int
	// P50ms is the median of 50 round trips of Redis's PING or
	// PostgreSQL's SELECT 1, the store's own work included.
	P50ms float64
}

// measureRTTs times a ping to each store at each distance, so the report
// says what the delay proxies added, not only what they were asked for.
func (s *stores) measureRTTs(ctx context.Context, p plan) ([]storeRTT, error) {
	var out []storeRTT
	for _, store := range []string{"redis", "postgres"} {
		for _, d := range p.Distances {
			addr := s.addrs[store][d]
			var ping func() error
			switch store {
			case "redis":
				conn, err := redis.Dial("tcp", addr)
				if err != nil {
					return nil, err
				}
				defer conn.Close()
				ping = func() error { _, err := conn.Do("PING"); return err }
			case "postgres":
				conn, err := pgx.Connect(ctx, s.postgres.dsn(addr))
				if err != nil {
					return nil, err
				}
				defer conn.Close(ctx)
				ping = func() error { _, err := conn.Exec(ctx, "SELECT 1"); return err } // no arguments: one simple-protocol round trip
			}
			times := samples{}
			for i := range 51 {
				start := time.Now()
				if err := ping(); err != nil {
					return nil, fmt.Errorf("ping %s +%s: %w", store, d, err)
				}
				if i > 0 { // the first may set the connection up
					times.latencies = append(times.latencies, time.Since(start))
				}
			}
			out = append(out, storeRTT{store, int(d.Milliseconds()), micros(times.quantile(0.5)) / 1e3})
		}
	}
	return out, nil
}

// storePIDs returns the processes of an implementation's store, and
// whether their children count (PostgreSQL's backends).
func (s *stores) storePIDs(im impl) ([]int, bool) {
	switch im.Store {
	case "redis":
		return []int{s.redis.pid()}, false
	case "postgres":
		return []int{s.postgres.pid()}, true
	}
	return nil, false
}

// runAll measures every implementation at every size and, for a store
// reached over the network, at every distance, each server on serverCPU
// (-1: anywhere). done is called with each row as it is measured.
func runAll(ctx context.Context, p plan, serverCPU int, res *results, done func(row)) error {
	s, err := startStores(ctx, p)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.stop(); err != nil {
			slog.Error("stopping the stores", "err", err)
		}
	}()
	if res.StoreRTTs, err = s.measureRTTs(ctx, p); err != nil {
		return err
	}
	// net/http alone is measured first and again last: the difference is
	// how far this machine drifted during the run.
	order := append(append([]impl{}, impls...), impls[0])
	for i, im := range order {
		distances := []time.Duration{0}
		if im.remote() {
			distances = p.Distances
		}
		sizes := p.Sizes
		if im.baseline() {
			// It keeps no session: one size is every size. The first row
			// has the smallest, the repeat the largest.
			sizes = sizes[:1]
			if i > 0 {
				sizes = p.Sizes[len(p.Sizes)-1:]
			}
		}
		for _, d := range distances {
			if err := runServer(ctx, p, s, serverCPU, im, d, sizes, done); err != nil {
				return err
			}
		}
	}
	return nil
}

// runServer starts the server of im, with its store at distance d,
// measures a row at each size, and stops it.
func runServer(ctx context.Context, p plan, s *stores, serverCPU int, im impl, d time.Duration, sizes []int, done func(row)) error {
	srv, err := startServer(serverCPU, im.Name, s.addrs["redis"][d], s.postgres.dsn(s.addrs["postgres"][d]))
	if err != nil {
		return err
	}
	for _, size := range sizes {
		if ctx.Err() != nil {
			break
		}
		r, err := measure(ctx, p, s, srv, im, size, d)
		if err != nil {
			_ = srv.stop(syscall.SIGTERM)
			return fmt.Errorf("%s, %d B, +%s: %w", im.Name, size, d, err)
		}
		done(r)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		return err
	}
	return ctx.Err()
}

// measure runs the phases of one row against a running server.
func measure(ctx context.Context, p plan, s *stores, srv *server, im impl, size int, d time.Duration) (row, error) {
	base := srv.Base
	r := row{Impl: im.Name, Store: im.Store, Size: size, RTTms: int(d.Milliseconds()), Clients: p.Clients}
	var w wire
	clients := make([]*client, p.Clients)
	for i := range clients {
		clients[i] = newClient(&w, 1)
		defer clients[i].close()
		if _, got, err := clients[i].do(ctx, http.MethodPost, base+"/grow?size="+strconv.Itoa(size)); err != nil {
			r.GrowErrors++
			r.GrowErr = err.Error()
		} else if got != size {
			return r, fmt.Errorf("grew a session of %d bytes, not %d", got, size)
		} else {
			clients[i].grown = true
		}
	}
	read := vegeta.Target{Method: http.MethodGet, URL: base + "/read"}
	incr := vegeta.Target{Method: http.MethodPost, URL: base + "/incr"}
	// Warm up, flat out too, so that the pools of store connections
	// reach their working size before any CPU is counted.
	attack(ctx, clients, read, p.Warmup, atRate(p.Rate, p.Clients))
	attack(ctx, clients, read, p.Warmup/2, flatOut)

	storePIDs, storeChildren := s.storePIDs(im)
	for _, ph := range []struct {
		target vegeta.Target
		mode   string
	}{{read, "rate"}, {incr, "rate"}, {read, "closed"}, {incr, "closed"}} {
		pace, du := atRate(p.Rate, p.Clients), p.AtRate
		if ph.mode == "closed" {
			pace, du = flatOut, p.FlatOut
		}
		serverBefore, err := readCPU([]int{srv.pid()}, false)
		if err != nil {
			return r, err
		}
		storeBefore, err := readCPU(storePIDs, storeChildren)
		if err != nil {
			return r, err
		}
		wireBefore, start := w.read(), time.Now()
		got := attack(ctx, clients, ph.target, du, pace)
		elapsed := time.Since(start)
		wired := w.read().sub(wireBefore)
		serverAfter, err := readCPU([]int{srv.pid()}, false)
		if err != nil {
			return r, err
		}
		storeAfter, err := readCPU(storePIDs, storeChildren)
		if err != nil {
			return r, err
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		n := len(got.latencies) + got.errors
		perReq := func(t time.Duration) float64 { return float64(t.Nanoseconds()) / 1e3 / float64(max(n, 1)) }
		serverCPU := serverAfter.sub(serverBefore)
		r.Phases = append(r.Phases, phase{
			Route: ph.target.URL[len(base)+1:], Mode: ph.mode,
			Requests: n, Errors: got.errors, FirstErr: got.firstErr,
			Seconds: elapsed.Seconds(), PerSec: float64(len(got.latencies)) / elapsed.Seconds(),
			P50us: micros(got.quantile(0.50)), P99us: micros(got.quantile(0.99)),
			ServerCPUus: perReq(serverCPU), StoreCPUus: perReq(storeAfter.sub(storeBefore)),
			ServerBusy: serverCPU.Seconds() / elapsed.Seconds(),
			CookieB:    wired.perRequest(wired.Cookie), SetCookieB: wired.perRequest(wired.SetCookie),
			RequestB: wired.perRequest(wired.Sent), ResponseB: wired.perRequest(wired.Received),
		})
	}

	if r.GrowErrors == 0 {
		var err error
		if r.Wire, r.Cookies, err = measureWire(ctx, srv.TLS, size, p.WireRounds); err != nil {
			return r, fmt.Errorf("counting bytes over TLS: %w", err)
		}
	}

	if im.baseline() {
		return r, nil // no counter to lose
	}
	for _, c := range clients {
		if !c.grown {
			continue
		}
		n, _, err := c.do(ctx, http.MethodGet, base+"/read")
		if err != nil {
			return r, fmt.Errorf("reading a counter: %w", err)
		}
		r.OwnJars.Expected += c.incrs
		r.OwnJars.Final += n
	}

	shared := newClient(&w, p.SameJarWorkers)
	defer shared.close()
	r.SameJar.Workers, r.SameJar.Sent = p.SameJarWorkers, p.SameJarRequests
	if _, _, err := shared.do(ctx, http.MethodPost, base+"/grow?size="+strconv.Itoa(size)); err != nil {
		r.SameJar.Errors = p.SameJarRequests // no session to increment: every request would fail
		return r, nil
	}
	r.SameJar.Expected, r.SameJar.Errors = sameJar(ctx, shared, incr.URL, p.SameJarWorkers, p.SameJarRequests)
	n, _, err := shared.do(ctx, http.MethodGet, base+"/read")
	if err != nil {
		return r, fmt.Errorf("reading the shared counter: %w", err)
	}
	r.SameJar.Final = n
	return r, nil
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
