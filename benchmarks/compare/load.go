//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// wire counts what the virtual clients send and receive, all together.
type wire struct {
	requests, cookie, setCookie, sent, received atomic.Int64
	// dials counts the connections opened, where a client counts them.
	dials atomic.Int64
}

// wireCount is a reading of a wire, or the difference of two.
type wireCount struct {
	Requests int64
	// Cookie and SetCookie are the bytes of those header lines, name,
	// colon, space and CRLF included.
	Cookie, SetCookie int64
	// Sent and Received are the bytes written to and read from the
	// connections: whole requests and responses.
	Sent, Received int64
}

func (w *wire) read() wireCount {
	return wireCount{w.requests.Load(), w.cookie.Load(), w.setCookie.Load(), w.sent.Load(), w.received.Load()}
}

func (c wireCount) sub(before wireCount) wireCount {
	return wireCount{c.Requests - before.Requests, c.Cookie - before.Cookie, c.SetCookie - before.SetCookie,
		c.Sent - before.Sent, c.Received - before.Received}
}

// perRequest returns n per request of c.
func (c wireCount) perRequest(n int64) float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(n) / float64(c.Requests)
}

// countingTransport counts the Cookie and Set-Cookie header lines of each
// exchange. The client's jar adds the Cookie header before the transport
// sees the request.
type countingTransport struct {
	base http.RoundTripper
	wire *wire
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.wire.requests.Add(1)
	for _, v := range req.Header.Values("Cookie") {
		t.wire.cookie.Add(int64(len("Cookie: ") + len(v) + 2))
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		for _, v := range resp.Header.Values("Set-Cookie") {
			t.wire.setCookie.Add(int64(len("Set-Cookie: ") + len(v) + 2))
		}
	}
	return resp, err
}

// countingConn counts the bytes a connection carries.
type countingConn struct {
	net.Conn
	wire *wire
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.wire.received.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wire.sent.Add(int64(n))
	return n, err
}

// client is a virtual client: a browser's worth of state, with one cookie
// jar and keep-alive connections of its own.
type client struct {
	http *http.Client
	// incrs counts the increments the server acknowledged since the
	// session was grown: what the counter should read.
	incrs int
	grown bool
}

// newClient returns a client whose traffic w counts, with up to conns
// keep-alive connections.
func newClient(w *wire, conns int) *client {
	jar, _ := cookiejar.New(nil) // never fails without options
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, w}, nil
		},
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
	}
	return &client{http: &http.Client{
		Jar:       jar,
		Transport: countingTransport{transport, w},
		Timeout:   10 * time.Second,
	}}
}

// do sends one request outside the measured phases, and returns the
// counter and size of the answer.
func (c *client) do(ctx context.Context, method, url string) (n, size int, err error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(body)))
	}
	return parseAnswer(body)
}

// parseAnswer reads a route's "N SIZE" answer.
func parseAnswer(body []byte) (n, size int, err error) {
	f := strings.Fields(string(body))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("answer %q is not N SIZE", body)
	}
	if n, err = strconv.Atoi(f[0]); err == nil {
		size, err = strconv.Atoi(f[1])
	}
	return n, size, err
}

func (c *client) close() { c.http.CloseIdleConnections() }

// samples are the outcomes of a phase's requests.
type samples struct {
	latencies []time.Duration // of the successful requests
	errors    int
	firstErr  string
}

// quantile returns the q-quantile of the successful requests' latencies,
// by the nearest-rank method. The samples are kept and sorted, for exact
// figures: vegeta's own Metrics estimate quantiles with a t-digest.
func (s *samples) quantile(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	i := int(float64(len(s.latencies))*q+0.999999) - 1
	return s.latencies[max(0, min(i, len(s.latencies)-1))]
}

// attack sends target from each client, each with its own pacer and one
// request in flight at a time, for du, and collects the outcomes. pace
// returns a client's pacer and how long it waits before it starts (to
// spread the clients' requests evenly). Requests to /incr that succeed are
// counted on their client.
//
// vegeta's Attacker does the pacing, the sending and the reading; one
// Attacker per client, since an Attacker has one http.Client, and so one
// cookie jar.
func attack(ctx context.Context, clients []*client, target vegeta.Target, du time.Duration, pace func(i int) (vegeta.Pacer, time.Duration)) *samples {
	var (
		mu  sync.Mutex
		all samples
		wg  sync.WaitGroup
	)
	incr := strings.HasSuffix(target.URL, "/incr")
	for i, c := range clients {
		pacer, wait := pace(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			a := vegeta.NewAttacker(vegeta.Client(c.http), vegeta.Workers(1), vegeta.MaxWorkers(1))
			stop := context.AfterFunc(ctx, func() { a.Stop() })
			defer stop()
			var own samples
			for res := range a.Attack(vegeta.NewStaticTargeter(target), pacer, du, "") {
				if res.Code != http.StatusOK {
					own.errors++
					if own.firstErr == "" {
						own.firstErr = fmt.Sprintf("%d %s %s", res.Code, res.Error, strings.TrimSpace(string(res.Body)))
					}
					continue
				}
				own.latencies = append(own.latencies, res.Latency)
				if incr {
					c.incrs++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			all.latencies = append(all.latencies, own.latencies...)
			all.errors += own.errors
			if all.firstErr == "" {
				all.firstErr = own.firstErr
			}
		}()
	}
	wg.Wait()
	return &all
}

// atRate paces len(clients) clients so that together they send rate
// requests a second, evenly spread: each client every len(clients)/rate
// seconds, client i starting i/rate seconds after the first.
func atRate(rate, clients int) func(i int) (vegeta.Pacer, time.Duration) {
	every := time.Duration(float64(time.Second) * float64(clients) / float64(rate))
	return func(i int) (vegeta.Pacer, time.Duration) {
		return vegeta.Rate{Freq: 1, Per: every}, time.Duration(i) * every / time.Duration(clients)
	}
}

// flatOut is the closed loop: each client sends its next request as soon
// as the last is answered.
func flatOut(int) (vegeta.Pacer, time.Duration) { return vegeta.Rate{Freq: 0}, 0 }

// sameJar sends n increments from one client, workers at a time: requests
// in flight together carry the same cookie, as a browser's tabs or
// parallel API calls do. It returns the increments acknowledged and the
// errors.
func sameJar(ctx context.Context, c *client, url string, workers, n int) (acked, errors int) {
	a := vegeta.NewAttacker(vegeta.Client(c.http), vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)))
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	defer stop()
	for res := range a.Attack(vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: url}), upTo(n), 0, "") {
		if res.Code == http.StatusOK {
			acked++
		} else {
			errors++
		}
	}
	return acked, errors
}

// upTo is a vegeta.Pacer that sends as fast as the workers go, and stops
// after its number of requests.
type upTo uint64

func (n upTo) Pace(_ time.Duration, hits uint64) (time.Duration, bool) { return 0, hits >= uint64(n) }

// Rate is infinite, like vegeta's zero Rate.
func (upTo) Rate(time.Duration) float64 { return math.Inf(1) }
