//go:build linux

package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/cookiesession/cookiesession/internal/selfsigned"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2/hpack"
)

// tlsRecord is what TLS 1.3 adds to each record it writes: a 5-byte
// header, the inner content type (1 byte) and the AEAD tag (16 bytes).
const tlsRecord = 5 + 1 + 16

// serveEndpoints serves h at every endpoint, on loopback, and returns
// their addresses by name.
func serveEndpoints(t *testing.T, h http.Handler) map[string]string {
	t.Helper()
	cert, err := selfsigned.Certificate("127.0.0.1")
	require.NoError(t, err)
	addrs := map[string]string{}
	for _, e := range endpoints {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := e.server(h, cert)
		done := make(chan error, 1)
		go func() { done <- srv.ServeTLS(ln, "", "") }()
		t.Cleanup(func() {
			assert.NoError(t, srv.Close())
			assert.ErrorIs(t, <-done, http.ErrServerClosed)
		})
		addrs[e.Name] = ln.Addr().String()
	}
	return addrs
}

func protocolNamed(key string) protocol {
	for _, p := range protocols {
		if p.Key == key {
			return p
		}
	}
	panic("no protocol " + key)
}

// ok answers "ok" with a fixed set of headers, no Date: a response whose
// bytes are known.
var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Date"] = nil
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "2")
	_, _ = w.Write([]byte("ok"))
})

// sendKnown sends GET /read with one field of its own, three times on
// one connection, and returns what the third cost each way.
func sendKnown(t *testing.T, p protocol, addr string) (up, down int64) {
	t.Helper()
	ctx := context.Background()
	var w wire
	var send func() string
	if p.Key == "h1" {
		c := newTLSClient(&w)
		defer c.CloseIdleConnections()
		send = func() string {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/read", nil)
			require.NoError(t, err)
			req.Header.Set("User-Agent", "known")
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body bytes.Buffer
			_, err = body.ReadFrom(resp.Body)
			require.NoError(t, err)
			return body.String()
		}
	} else {
		c, err := dialH2(ctx, &w, addr, p.EncoderTable)
		require.NoError(t, err)
		defer c.close()
		send = func() string {
			status, body, err := c.roundTrip(ctx, http.MethodGet, "/read", []hpack.HeaderField{{Name: "user-agent", Value: "known"}})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, status)
			return string(body)
		}
	}
	var before wireCount
	for i := range 3 {
		if i == 2 {
			before = w.read()
		}
		require.Equal(t, "ok", send())
	}
	d := w.read().sub(before)
	return d.Sent, d.Received
}

// TestWireCountsAKnownRequestExactly: the bytes counted under TLS are the
// request's and the response's own, plus one TLS 1.3 record each.
func TestWireCountsAKnownRequestExactly(t *testing.T) {
	addrs := serveEndpoints(t, ok)

	t.Run("HTTP/1.1", func(t *testing.T) {
		up, down := sendKnown(t, protocolNamed("h1"), addrs["h1"])
		request := "GET /read HTTP/1.1\r\nHost: " + addrs["h1"] + "\r\nUser-Agent: known\r\n\r\n"
		response := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
		assert.Equal(t, int64(len(request)+tlsRecord), up)
		assert.Equal(t, int64(len(response)+tlsRecord), down)
	})

	// HTTP/2 sends the request as one HEADERS frame (a 9-byte frame
	// header and the HPACK block) in one record. The third request's block
	// is what an HPACK encoder writes for these fields the third time.
	fields := func(addr string) []hpack.HeaderField {
		return []hpack.HeaderField{
			{Name: ":method", Value: "GET"}, {Name: ":authority", Value: addr},
			{Name: ":scheme", Value: "https"}, {Name: ":path", Value: "/read"},
			{Name: "user-agent", Value: "known"},
		}
	}
	third := func(table uint32, addr string) int {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(table)
		for range 3 {
			buf.Reset()
			for _, f := range fields(addr) {
				require.NoError(t, enc.WriteField(f))
			}
		}
		return buf.Len()
	}
	t.Run("HTTP/2", func(t *testing.T) {
		up, _ := sendKnown(t, protocolNamed("h2"), addrs["h2"])
		block := third(4096, addrs["h2"])
		assert.Equal(t, 5, block, "every field from the tables: one byte each")
		assert.Equal(t, int64(9+block+tlsRecord), up)
	})
	t.Run("HTTP/2 without a dynamic table", func(t *testing.T) {
		up, _ := sendKnown(t, protocolNamed("h2-static"), addrs["h2"])
		block := third(1, addrs["h2"])
		assert.Greater(t, block, 5+len(addrs["h2"])/2, "the authority, path and user-agent as literals")
		assert.Equal(t, int64(9+block+tlsRecord), up)
	})
}

// TestWireHPACKAtWork measures cookie sessions as the comparison does, and
// checks what HPACK does to them: an unchanged one-cookie session costs
// HTTP/2 a few bytes and HTTP/1.1 all of it; a changed one costs both
// about its size; a session of three cookies of about 4 KB each overflows
// the default 4 KB table, and fits a 64 KB one.
func TestWireHPACKAtWork(t *testing.T) {
	ctx := context.Background()
	figures := func(t *testing.T, name string, size int) ([]wireFigure, int) {
		t.Helper()
		api, closeStore, err := newSessionAPI(name, "", "")
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, closeStore()) })
		figs, cookies, err := measureWire(ctx, serveEndpoints(t, routes(api)), size, 3)
		require.NoError(t, err)
		return figs, cookies
	}
	get := func(figs []wireFigure, route, proto string) wireFigure {
		r := row{Wire: figs}
		f := r.wire(route, proto)
		require.NotNil(t, f, "%s %s", route, proto)
		return *f
	}

	t.Run("one cookie", func(t *testing.T) {
		figs, cookies := figures(t, "cookiesession-compact", 512)
		assert.Equal(t, 1, cookies)
		assert.Greater(t, get(figs, "read", "h1").UpB, 512.0, "HTTP/1.1 sends the whole cookie")
		assert.Less(t, get(figs, "read", "h2").UpB, 100.0, "HTTP/2 sends an unchanged cookie as an index")
		assert.Greater(t, get(figs, "read", "h2-static").UpB, 600.0, "with no table, the cookie goes as a literal")
		assert.Greater(t, get(figs, "incr", "h2").UpB, 512.0, "a changed cookie goes in full")
		assert.Greater(t, get(figs, "incr", "h2").DownB, 512.0, "and comes back in Set-Cookie")
	})
	t.Run("one cookie that crowds the table", func(t *testing.T) {
		// 2 KB of session is a 3.9 KB cookie in the default format: with
		// the browser's other headers, more than 4 KB of table.
		// The fields go in one order every time, as a browser's: each is
		// evicted before it comes round again.
		figs, _ := figures(t, "cookiesession", 2048)
		assert.Greater(t, get(figs, "read", "h2").UpB, 3000.0, "evicted and sent again each time")
		assert.Less(t, get(figs, "read", "h2-64k").UpB, 100.0, "a 64 KB table keeps it")
	})
	t.Run("three cookies", func(t *testing.T) {
		figs, cookies := figures(t, "cookiesession-compact", 8192)
		assert.Equal(t, 3, cookies)
		assert.Greater(t, get(figs, "read", "h2").UpB, 8000.0, "each ~4 KB crumb evicts the last from a 4 KB table")
		assert.Less(t, get(figs, "read", "h2-64k").UpB, 100.0, "a 64 KB table keeps all three")
	})
	t.Run("a store's ID", func(t *testing.T) {
		figs, cookies := figures(t, "scs-memstore", 8192)
		assert.Equal(t, 1, cookies)
		assert.Less(t, get(figs, "read", "h2").UpB, get(figs, "read", "h1").UpB/5)
	})
}

func TestSetBrowserHeaders(t *testing.T) {
	for _, route := range []string{"read", "incr"} {
		req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:8443/"+route, nil)
		require.NoError(t, err)
		setBrowserHeaders(req, route)
		assert.NotEmpty(t, req.Header.Get("User-Agent"), route)
		assert.Empty(t, req.Header.Get("Cookie"))
		assert.Empty(t, req.Header.Get("Content-Length"))
		for name, vs := range req.Header {
			assert.NotContains(t, name, ":")
			for _, v := range vs {
				assert.NotContains(t, v, "{", "%s: placeholders replaced", name)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "https://127.0.0.1:8443/incr", nil)
	setBrowserHeaders(req, "incr")
	assert.Equal(t, "https://127.0.0.1:8443", req.Header.Get("Origin"))
}

// TestWireAgreesWithChromium holds this client's HTTP/2 figures to what
// Chromium itself wrote on its connection (recorded by the e2e suite in
// chromium-headers.json), for the same session format and tables.
func TestWireAgreesWithChromium(t *testing.T) {
	cases := map[string]browserWire{}
	for _, c := range chromiumHeaders.Wire {
		cases[c.Case] = c
	}
	require.Len(t, cases, 4, "run the e2e suite with -update-chromium-headers")
	api, closeStore, err := newSessionAPI("cookiesession-compact", "", "")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, closeStore()) })
	addrs := serveEndpoints(t, routes(api))
	measure := func(c browserWire) row {
		t.Helper()
		figs, _, err := measureWire(context.Background(), addrs, c.SessionBytes, 3)
		require.NoError(t, err)
		return row{Wire: figs}
	}

	one := cases["one cookie, 4 KB table"]
	r := measure(one)
	assert.InDelta(t, one.ReadUpB, r.wire("read", "h2").UpB, 30, "an unchanged cookie: an index, and the other fields' indexes")
	assert.InEpsilon(t, one.IncrUpB, r.wire("incr", "h2").UpB, 0.15, "a changed cookie, Huffman-coded")

	crowd := cases["one cookie that crowds a 4 KB table"]
	r = measure(crowd)
	assert.InEpsilon(t, crowd.ReadUpB, r.wire("read", "h2").UpB, 0.1, "every field evicted before it comes round again")

	three, big := cases["three cookies, 4 KB table"], cases["three cookies, 64 KB table"]
	r = measure(three)
	assert.InEpsilon(t, three.ReadUpB, r.wire("read", "h2").UpB, 0.1, "three crumbs of about 4 KB evict each other")
	assert.InDelta(t, big.ReadUpB, r.wire("read", "h2-64k").UpB, 30, "three cookies kept in a 64 KB table")
}
