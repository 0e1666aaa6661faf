//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client speaks HTTP/2 on one TLS connection as Chromium does, where it
// matters to the bytes: the settings it sends (a 64 KB HPACK table for
// responses, no push, its window sizes), and each request's fields in one
// fixed order, pseudo-headers first and the cookie's crumbs last.
//
// net/http's client sends a request's fields in the order of a Go map,
// which changes from request to request. That order decides what an
// overflowing HPACK table keeps: with a fixed order, as a browser's, every
// field is evicted before it comes round again and all go as literals;
// with a changing one, some survive. Measured in e2e, Chromium sends a
// cookie that crowds a 4 KB table whole on every request, so the
// comparison writes its frames itself, with x/net's framer and HPACK
// encoder, to count what a browser would.
type h2Client struct {
	conn     net.Conn
	bw       *bufio.Writer
	fr       *http2.Framer
	enc      *hpack.Encoder
	block    bytes.Buffer
	encMax   uint32 // the most of the server's table the encoder uses
	frameMax uint32
	stream   uint32
	jar      http.CookieJar
	u        *url.URL
}

// Chromium's SETTINGS and connection window, from net/http's
// http_network_session: what the server learns of the client.
var chromiumSettings = []http2.Setting{
	{ID: http2.SettingHeaderTableSize, Val: 64 << 10},
	{ID: http2.SettingEnablePush, Val: 0},
	{ID: http2.SettingInitialWindowSize, Val: 6 << 20},
	{ID: http2.SettingMaxHeaderListSize, Val: 256 << 10},
}

const chromiumConnWindow = 15<<20 - 65535 // added to the default 65,535

// dialH2 opens a TLS connection to addr, counted by w under TLS, and
// starts HTTP/2 on it. encMax caps the encoder's table: 64 KB as
// Chromium's (which applies the server's setting as it comes), or 1 byte,
// in which no field fits.
func dialH2(ctx context.Context, w *wire, addr string, encMax uint32) (*h2Client, error) {
	raw, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	w.dials.Add(1)
	conn := tls.Client(countingConn{raw, w}, &tls.Config{
		InsecureSkipVerify:          true, // the server's throw-away certificate: the bytes do not depend on it
		NextProtos:                  []string{"h2"},
		DynamicRecordSizingDisabled: true, // full records from the first byte, as browsers write them
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		conn.Close()
		return nil, fmt.Errorf("%s: negotiated %q, not h2", addr, p)
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	c := &h2Client{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), encMax: encMax, frameMax: 16 << 10, stream: 1, jar: jar,
		u: &url.URL{Scheme: "https", Host: addr, Path: "/"}}
	c.fr = http2.NewFramer(c.bw, conn)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(64<<10, nil)
	c.enc = hpack.NewEncoder(&c.block)
	c.enc.SetMaxDynamicTableSizeLimit(encMax)
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		conn.Close()
		return nil, err
	}
	err = errors.Join(c.fr.WriteSettings(chromiumSettings...), c.fr.WriteWindowUpdate(0, chromiumConnWindow), c.bw.Flush())
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *h2Client) close() error { return c.conn.Close() }

// cookies returns how many cookies the jar sends.
func (c *h2Client) cookies() int { return len(c.jar.Cookies(c.u)) }

// roundTrip sends a request with fields after the pseudo-headers and,
// last, the jar's cookies one crumb each, and returns the answer's status
// and body. Its frames are written at once, as one TLS write.
func (c *h2Client) roundTrip(ctx context.Context, method, path string, fields []hpack.HeaderField) (int, []byte, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(d)
	} else {
		_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	c.block.Reset()
	all := append([]hpack.HeaderField{
		{Name: ":method", Value: method}, {Name: ":authority", Value: c.u.Host},
		{Name: ":scheme", Value: "https"}, {Name: ":path", Value: path},
	}, fields...)
	if method == http.MethodPost {
		all = append(all, hpack.HeaderField{Name: "content-length", Value: "0"})
	}
	for _, ck := range c.jar.Cookies(c.u) {
		all = append(all, hpack.HeaderField{Name: "cookie", Value: ck.Name + "=" + ck.Value})
	}
	for _, f := range all {
		if err := c.enc.WriteField(f); err != nil {
			return 0, nil, err
		}
	}
	id := c.stream
	c.stream += 2
	block := c.block.Bytes()
	first := block[:min(len(block), int(c.frameMax))]
	block = block[len(first):]
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(block) == 0})
	for err == nil && len(block) > 0 {
		frag := block[:min(len(block), int(c.frameMax))]
		block = block[len(frag):]
		err = c.fr.WriteContinuation(id, len(block) == 0, frag)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		return 0, nil, err
	}
	return c.read(id)
}

// read reads frames until stream id's answer has ended, answering the
// server's SETTINGS and PINGs on the way.
func (c *h2Client) read(id uint32) (int, []byte, error) {
	status, body := 0, []byte{}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			if v, ok := f.Value(http2.SettingHeaderTableSize); ok {
				c.enc.SetMaxDynamicTableSize(min(v, c.encMax))
			}
			if v, ok := f.Value(http2.SettingMaxFrameSize); ok {
				c.frameMax = min(v, 16<<10)
			}
			err = errors.Join(c.fr.WriteSettingsAck(), c.bw.Flush())
		case *http2.PingFrame:
			if !f.IsAck() {
				err = errors.Join(c.fr.WritePing(true, f.Data), c.bw.Flush())
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				continue
			}
			h := http.Header{}
			for _, hf := range f.RegularFields() {
				h.Add(hf.Name, hf.Value)
			}
			status, _ = strconv.Atoi(f.PseudoValue("status"))
			c.jar.SetCookies(c.u, (&http.Response{Header: h}).Cookies())
			if f.StreamEnded() {
				return status, body, nil
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			body = append(body, f.Data()...)
			if f.StreamEnded() {
				return status, body, nil
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return 0, nil, fmt.Errorf("stream reset: %v", f.ErrCode)
			}
		case *http2.GoAwayFrame:
			return 0, nil, fmt.Errorf("server went away: %v %s", f.ErrCode, f.DebugData())
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// browserFields returns the browser's fields for route, but the
// pseudo-headers, Content-Length and cookies, which the client writes
// itself, in the order recorded.
func browserFields(route, host string) []hpack.HeaderField {
	var out []hpack.HeaderField
	r := originReplacer("https", host)
	for _, f := range chromiumHeaders.Routes[route].Fields {
		if !skipField(f.Name) {
			out = append(out, hpack.HeaderField{Name: f.Name, Value: r.Replace(f.Value)})
		}
	}
	return out
}

// h2Conn is a browser's HTTP/2 connection for the byte counts.
type h2Conn struct {
	c *h2Client
}

func (b h2Conn) do(ctx context.Context, method, path, route string) (n, size int, err error) {
	status, body, err := b.c.roundTrip(ctx, method, path, browserFields(route, b.c.u.Host))
	if err != nil {
		return 0, 0, err
	}
	if status != http.StatusOK {
		return 0, 0, fmt.Errorf("%s %s: %d: %s", method, path, status, bytes.TrimSpace(body))
	}
	return parseAnswer(body)
}

func (b h2Conn) cookies() int { return b.c.cookies() }
func (b h2Conn) close() error { return b.c.close() }
