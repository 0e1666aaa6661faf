//go:build linux

package main

import (
	"context"
	"crypto/tls"
	_ "embed" // the browser's request headers
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// endpoint is one of the TLS listeners every server process serves
// besides its plain HTTP/1.1 one: the same handler, spoken over
// HTTP/1.1 or HTTP/2 with a given HPACK table.
type endpoint struct {
	Name  string
	HTTP2 bool
	// Table is the server's HPACK tables, both ways: the
	// SETTINGS_HEADER_TABLE_SIZE it sends (how much of the requests'
	// headers a client may keep indexed) and the most it uses of the
	// client's for its responses. 4,096 is HTTP/2's default, and
	// net/http's.
	Table int
}

var endpoints = []endpoint{
	{"h1", false, 0},
	{"h2", true, 4096},
	{"h2-64k", true, 64 << 10},
}

// protocol is a way a browser reaches a server, whose bytes the
// comparison counts on the connection.
type protocol struct {
	Key  string
	Name string
	// Endpoint is the server's listener it talks to.
	Endpoint string
	// EncoderTable caps the client's HPACK encoder table, whatever the
	// server allows: 64 KB as a browser (Chromium's HpackEncoder applies
	// the server's SETTINGS_HEADER_TABLE_SIZE as it comes), or 1 byte, in
	// which no header fits: HTTP/2 with no dynamic table for requests,
	// which is what QPACK does when the server advertises none, its
	// default (the model of HTTP/3 here).
	EncoderTable uint32
}

var protocols = []protocol{
	{"h1", "HTTP/1.1", "h1", 0},
	{"h2", "HTTP/2", "h2", 64 << 10},
	{"h2-64k", "HTTP/2, server table 64 KB", "h2-64k", 64 << 10},
	{"h2-static", "HTTP/2, no dynamic table (HTTP/3 model)", "h2", 1},
}

// wireFigure is what one request of a route costs on the connection in one
// protocol: the bytes the client wrote (up) and read (down), TLS records
// whole, averaged over the requests measured after a warm-up on one
// long-lived connection.
type wireFigure struct {
	Proto    string
	Route    string
	Requests int
	UpB      float64
	DownB    float64
}

// browserRequest is a request as Chromium sent it to the demo over
// HTTP/2: every header field, pseudo-headers first, but cookies. The
// origin the browser talked to stands as {origin} in values, its host as
// {host}.
type browserRequest struct {
	Kind   string // what the browser did: a navigation, a form's POST
	Fields []struct{ Name, Value string }
}

// browserHeaders is the capture e2e/chromium_headers_test.go writes:
// the headers of Chromium's requests, per route of the comparison, and
// the bytes it wrote per request.
type browserHeaders struct {
	Browser  string
	Protocol string
	Measured string
	Routes   map[string]browserRequest // "read", "incr"
	// Wire is what Chromium itself wrote on its HTTP/2 connection per
	// request, counted by e2e/chromium_headers_test.go: the check on this
	// client's figures.
	Wire []browserWire
}

// browserWire is one case of the browser's own bytes: a session of
// SessionBytes (JSON) in the compact format, in Cookies cookies of
// CookieBytes in all, the server's HPACK table Table bytes; the mean bytes
// written per unchanged (read) and changed (incr) request.
type browserWire struct {
	Case                 string
	SessionBytes, Table  int
	Cookies, CookieBytes int
	ReadUpB, IncrUpB     float64
}

//go:embed chromium-headers.json
var chromiumHeadersJSON []byte

// chromiumHeaders is the capture, read once.
var chromiumHeaders = func() browserHeaders {
	var h browserHeaders
	if err := json.Unmarshal(chromiumHeadersJSON, &h); err != nil {
		panic("chromium-headers.json: " + err.Error())
	}
	return h
}()

// skipField reports whether a recorded field is one the client writes
// itself: the pseudo-headers, Content-Length, and cookies, which come from
// its jar.
func skipField(name string) bool {
	return strings.HasPrefix(name, ":") || name == "content-length" || name == "cookie"
}

// originReplacer puts an origin and its host in place of the
// recording's.
func originReplacer(scheme, host string) *strings.Replacer {
	return strings.NewReplacer("{origin}", scheme+"://"+host, "{host}", host)
}

// setBrowserHeaders gives req the browser's headers for route, but those
// net/http writes itself and cookies.
func setBrowserHeaders(req *http.Request, route string) {
	r := originReplacer(req.URL.Scheme, req.URL.Host)
	for _, f := range chromiumHeaders.Routes[route].Fields {
		if !skipField(f.Name) {
			req.Header.Add(f.Name, r.Replace(f.Value))
		}
	}
}

// browserConn is a browser's connection to a server, for the byte
// counts: HTTP/1.1 through net/http, HTTP/2 written as Chromium writes it.
type browserConn interface {
	// do sends a request of route (its recorded fields) to path and
	// returns the answer's counter and size.
	do(ctx context.Context, method, path, route string) (n, size int, err error)
	// cookies returns how many cookies the next request carries.
	cookies() int
	close() error
}

// newTLSClient returns an HTTP/1.1 client with one connection to a
// server's TLS endpoint, whose bytes under TLS w counts.
func newTLSClient(w *wire) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	t := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			w.dials.Add(1)
			return countingConn{conn, w}, nil // TLS runs on top: its records are counted whole
		},
		TLSClientConfig: &tls.Config{
			// The server's throw-away certificate: what is counted does
			// not depend on verifying it.
			InsecureSkipVerify: true,
			// Full records from the first byte, as browsers write them;
			// Go's client would otherwise start small and grow them.
			DynamicRecordSizingDisabled: true,
		},
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
		IdleConnTimeout:    time.Minute,
		DisableCompression: true, // the browser's Accept-Encoding is sent instead
		Protocols:          new(http.Protocols),
	}
	t.Protocols.SetHTTP1(true)
	return &http.Client{Jar: jar, Transport: t, Timeout: 10 * time.Second}
}

// h1Conn is a browser's HTTP/1.1 connection for the byte counts.
type h1Conn struct {
	c    *http.Client
	base string
}

func (b h1Conn) do(ctx context.Context, method, path, route string) (n, size int, err error) {
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, nil)
	if err != nil {
		return 0, 0, err
	}
	setBrowserHeaders(req, route)
	resp, err := b.c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		return 0, 0, fmt.Errorf("%s %s: %s %s: %s", method, path, resp.Proto, resp.Status, strings.TrimSpace(string(body)))
	}
	return parseAnswer(body)
}

func (b h1Conn) cookies() int {
	u, _ := url.Parse(b.base + "/")
	return len(b.c.Jar.Cookies(u))
}

func (b h1Conn) close() error {
	b.c.CloseIdleConnections()
	return nil
}

// dialBrowser opens a connection speaking p to its endpoint in addrs.
func dialBrowser(ctx context.Context, w *wire, p protocol, addrs map[string]string) (browserConn, error) {
	addr := addrs[p.Endpoint]
	if p.Key == "h1" {
		return h1Conn{newTLSClient(w), "https://" + addr}, nil
	}
	c, err := dialH2(ctx, w, addr, p.EncoderTable)
	if err != nil {
		return nil, err
	}
	return h2Conn{c}, nil
}

// measureWire grows a session of size on each protocol's endpoint, on
// one connection, then counts the bytes of rounds reads and rounds
// increments on that connection, each route after a warm-up. It returns
// the figures and how many cookies the requests carried.
func measureWire(ctx context.Context, addrs map[string]string, size, rounds int) ([]wireFigure, int, error) {
	var out []wireFigure
	cookies := 0
	for _, p := range protocols {
		var w wire
		c, err := dialBrowser(ctx, &w, p, addrs)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p.Name, err)
		}
		figures, n, err := measureProtocol(ctx, c, &w, size, rounds)
		err = errors.Join(err, c.close())
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p.Name, err)
		}
		for _, f := range figures {
			f.Proto = p.Key
			out = append(out, f)
		}
		cookies = n
	}
	return out, cookies, nil
}

func measureProtocol(ctx context.Context, c browserConn, w *wire, size, rounds int) ([]wireFigure, int, error) {
	if _, got, err := c.do(ctx, http.MethodPost, "/grow?size="+strconv.Itoa(size), "incr"); err != nil {
		return nil, 0, err
	} else if got != size {
		return nil, 0, fmt.Errorf("grew a session of %d bytes, not %d", got, size)
	}
	cookies := c.cookies()
	var out []wireFigure
	for _, rt := range []struct{ route, method string }{{"read", http.MethodGet}, {"incr", http.MethodPost}} {
		// The warm-up: the first request of a route puts its headers in
		// the tables, as a browser's first page does.
		for range 2 {
			if _, _, err := c.do(ctx, rt.method, "/"+rt.route, rt.route); err != nil {
				return nil, 0, err
			}
		}
		// A connection opened within the rounds would count a TLS
		// handshake and a cold table: measure again, on the new one.
		var d wireCount
		for try := 0; ; try++ {
			before, dials := w.read(), w.dials.Load()
			for range rounds {
				if _, _, err := c.do(ctx, rt.method, "/"+rt.route, rt.route); err != nil {
					return nil, 0, err
				}
			}
			d = w.read().sub(before)
			if w.dials.Load() == dials {
				break
			}
			if try == 2 {
				return nil, 0, fmt.Errorf("%s: a new connection in each of three tries", rt.route)
			}
		}
		out = append(out, wireFigure{
			Route: rt.route, Requests: rounds,
			UpB: float64(d.Sent) / float64(rounds), DownB: float64(d.Received) / float64(rounds),
		})
	}
	return out, cookies, nil
}
