//go:build linux

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// results is a run: where and how it ran, and its rows. It is written as
// JSON, and the markdown report and the charts are made from it.
type results struct {
	Date    string
	Mode    string // full or quick
	Command string
	Commit  string // the code that ran; "+dirty" when it had changes
	Machine string // cores, processor, kernel
	Go      string
	Pinning string
	Stores  string // the store servers' versions
	// StoreRTTs are the round trips to each store, through its proxy.
	StoreRTTs []storeRTT
	// Others is what the rest of the machine did during the run.
	Others string
	Plan   plan
	Links  []link
	// Endpoints and Protocols are how the bytes on the wire were counted;
	// Headers says whose request headers were sent.
	Endpoints []endpoint
	Protocols []protocol
	Headers   string
	Rows      []row
}

// failing is the share of errors from which a phase's latency is not
// drawn or compared: the implementation does not serve that size.
const failing = 0.01

// series returns a figure of every size for one implementation at one
// distance, NaN where the row or phase is missing or mostly failed. The
// baseline, measured at one size (and again at the end), has its first
// figure at every size.
func (res *results) series(name string, rttMs int, route, mode string, figure func(*row, *phase) float64) []float64 {
	anySize := impls[implIndex(name)].baseline()
	out := make([]float64, len(res.Plan.Sizes))
	for i, size := range res.Plan.Sizes {
		out[i] = math.NaN()
		for j := range res.Rows {
			r := &res.Rows[j]
			if r.Impl != name || (r.Size != size && !anySize) || r.RTTms != rttMs {
				continue
			}
			if ph := r.phase(route, mode); ph != nil && ph.Requests > 0 && float64(ph.Errors) < failing*float64(ph.Requests) {
				out[i] = figure(r, ph)
				break
			}
		}
	}
	return out
}

// failsFrom returns the smallest session size at which an implementation
// failed (its sessions could not be stored, or errors reached the share
// failing), or 0.
func (res *results) failsFrom(name string) int {
	from := 0
	for i := range res.Rows {
		r := &res.Rows[i]
		if r.Impl != name || (from > 0 && r.Size >= from) {
			continue
		}
		requests, errs := 0, 0
		for _, ph := range r.Phases {
			requests += ph.Requests
			errs += ph.Errors
		}
		if r.GrowErrors > 0 || float64(errs) >= failing*float64(max(requests, 1)) {
			from = r.Size
		}
	}
	return from
}

// storeAt names a store implementation at one distance.
type storeAt struct {
	impl  impl
	rttMs int
}

func (s storeAt) String() string {
	if !s.impl.remote() {
		return s.impl.Name
	}
	return fmt.Sprintf("%s +%d ms", s.impl.Name, s.rttMs)
}

// storesAt lists the store implementations at each distance of the plan.
func (res *results) storesAt() []storeAt {
	var out []storeAt
	for _, im := range impls {
		switch {
		case im.Store == "" || im.baseline():
		case !im.remote():
			out = append(out, storeAt{im, 0})
		default:
			for _, d := range res.Plan.Distances {
				out = append(out, storeAt{im, int(d.Milliseconds())})
			}
		}
	}
	return out
}

// cookieImpls are the cookie sessions compared with the stores: this
// package's two formats.
var cookieImpls = []string{"cookiesession", "cookiesession-compact"}

// upB returns the bytes a request of route wrote on the wire in proto,
// NaN where not measured.
func upB(r *row, route, proto string) float64 {
	if f := r.wire(route, proto); f != nil {
		return f.UpB
	}
	return math.NaN()
}

// felt returns the figure of the time a user on link l feels, the request
// sent in proto.
func felt(route, proto string, l link) func(*row, *phase) float64 {
	return func(r *row, ph *phase) float64 { return feltMicros(ph, upB(r, route, proto), l) }
}

// latencyCrossing is where the store overtakes the cookie session on
// link l, its requests sent in proto: the median latency plus the upload
// of the bytes measured on the wire.
func (res *results) latencyCrossing(cookie string, st storeAt, route, proto string, l link) crossing {
	f := felt(route, proto, l)
	return crossover(res.Plan.Sizes, res.series(cookie, 0, route, "rate", f), res.series(st.impl.Name, st.rttMs, route, "rate", f))
}

// cpu is the server's and the store's CPU time per request.
func cpu(_ *row, ph *phase) float64 { return ph.ServerCPUus + ph.StoreCPUus }

// cpuCrossing is where the store starts to use less CPU than the cookie,
// in the phases of the given mode. At the fixed rate every server gets the
// same requests at the same times, so their CPU compares fairly; flat
// out, the faster servers outrun the load generator and idle between
// requests, and pay for waking up.
func (res *results) cpuCrossing(cookie string, st storeAt, route, mode string) crossing {
	return crossover(res.Plan.Sizes, res.series(cookie, 0, route, mode, cpu), res.series(st.impl.Name, st.rttMs, route, mode, cpu))
}

// writeMarkdown writes the report: how the run was made, every row, and
// the crossovers.
func (res *results) writeMarkdown(w io.Writer, files map[string]string) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Cookie or store: end-to-end comparison, %s (%s mode)\n\n", res.Date, res.Mode)
	p("- Command: `%s`\n- Commit: %s\n- Machine: %s; %s\n- %s\n- Stores: %s\n", res.Command, res.Commit, res.Machine, res.Go, res.Pinning, res.Stores)
	var rtts []string
	for _, r := range res.StoreRTTs {
		rtts = append(rtts, fmt.Sprintf("%s +%d ms: %.2f ms", r.Store, r.AskedMs, r.P50ms))
	}
	p("- Store round trips through the delay proxies, asked and measured (p50 of a PING or SELECT 1, before the load): %s\n", strings.Join(rtts, "; "))
	p("- %s\n", res.Others)
	p("- Files: %s\n\n", strings.Join([]string{files["json"], files["bytes"], files["latency-read"], files["latency-incr"], files["cpu"]}, ", "))
	pl := res.Plan
	p("Each implementation is a real HTTP server in a process of its own, serving `GET /read` (read the counter), "+
		"`POST /incr` (read-modify-write of the counter) and `POST /grow?size=N` (a session of N bytes of JSON). "+
		"%d virtual clients, each with its own cookie jar and keep-alive HTTP/1.1 connection, first grow their session, "+
		"then send requests with vegeta: %d requests/s in all for %s per route (latency, and CPU at that rate), then "+
		"every client flat out for %s per route (requests/s, and CPU at that load). The session's size is the JSON of "+
		"its values, `{\"blob\":…,\"n\":…}`, whatever each implementation puts on the wire. Redis and PostgreSQL run "+
		"in processes of their own; the store's distance is a round-trip time added by a delay proxy (toxiproxy's "+
		"latency toxic, on the way to the store) between server and store. `no-session` is net/http alone, serving "+
		"the same routes with no session, measured first and again last: what this machine's HTTP costs anyway, and "+
		"how far the machine drifted during the run.\n\n",
		pl.Clients, pl.Rate, pl.AtRate, pl.FlatOut)

	p("## Measured\n\n")
	p("Latency is at the fixed rate, p50 / p99 in ms, on loopback. CPU is µs per request of the server process + the store's "+
		"processes: at the fixed rate, where every server gets the same requests at the same times, and flat out, with the "+
		"server's core busy that share of the time (below 100%%, the load generator on the other core was the limit). "+
		"Bytes are per request of the incr route, header lines whole. Errors are of all the row's requests. "+
		"Lost updates are acknowledged increments less the final counters (acknowledged → final): clients each with "+
		"their own jar, one request at a time; and one jar with %d requests in flight at once.\n\n", pl.SameJarWorkers)
	p("| implementation | session | store RTT | read p50 / p99 ms | incr p50 / p99 ms | CPU µs read, %d/s | CPU µs incr, %d/s | incr flat out: req/s, core busy, CPU µs | Cookie B | Set-Cookie B | errors | lost updates, own jars | lost updates, one jar |\n", pl.Rate, pl.Rate)
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i := range res.Rows {
		r := &res.Rows[i]
		rr, ri, ci := r.phase("read", "rate"), r.phase("incr", "rate"), r.phase("incr", "closed")
		if rr == nil || ri == nil || ci == nil {
			continue
		}
		im := impls[implIndex(r.Impl)]
		rtt, size := "—", bytesLabel(float64(r.Size))
		if im.remote() {
			rtt = fmt.Sprintf("+%d ms", r.RTTms)
		}
		if im.baseline() {
			size = "none, first"
			if i > 0 {
				size = "none, last"
			}
		}
		requests, errs := 0, 0
		for _, ph := range r.Phases {
			requests += ph.Requests
			errs += ph.Errors
		}
		errCell := "0"
		if errs > 0 || r.GrowErrors > 0 {
			errCell = fmt.Sprintf("**%.0f%%** (%s)", 100*float64(errs)/float64(max(requests, 1)), errCause(r))
		}
		flat := "—"
		if ci.PerSec > 0 {
			flat = fmt.Sprintf("%.0f, %.0f%%, %s", ci.PerSec, 100*ci.ServerBusy, cpuCell(ci))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s | %s |\n",
			r.Impl, size, rtt, latencies(rr), latencies(ri), cpuCell(rr), cpuCell(ri), flat,
			ri.CookieB, ri.SetCookieB, errCell,
			lost(r.OwnJars.Expected, r.OwnJars.Final, r.GrowErrors == r.Clients || im.baseline()),
			lost(r.SameJar.Expected, r.SameJar.Final, r.SameJar.Expected == 0 || im.baseline()))
	}

	res.writeWire(w)

	for _, route := range []string{"read", "incr"} {
		p("\n### Crossovers, %s route: the session size below which a cookie session is faster\n\n", route)
		p("The p50 latency measured on loopback (above) plus the time to upload the request's bytes measured on the wire, "+
			"per protocol. The latency and the bytes are measured; the upload time is modelled from the bytes (× 8 / the "+
			"uplink's bit rate), because no link is emulated here: it leaves out TCP/IP headers, slow start and the link's own "+
			"round trips, which weigh on both sides alike, and the download of the answer (`Set-Cookie` on a change). "+
			"Default format / compact format. \"never\": the cookie session is still faster at %s; "+
			"\"always\": the store is faster from %s.\n\n",
			bytesLabel(float64(pl.Sizes[len(pl.Sizes)-1])), bytesLabel(float64(pl.Sizes[0])))
		for _, l := range res.Links {
			protos := res.Protocols
			if l.Mbps == 0 {
				protos = protos[:1] // nothing to upload: the protocols do not differ
				p("%s (no upload time, whatever the protocol):\n\n| store | crossover |\n| --- | ---: |\n", l.Name)
			} else {
				p("%s:\n\n| store |", l.Name)
				for _, pr := range protos {
					p(" %s |", pr.Name)
				}
				p("\n| --- |%s\n", strings.Repeat(" ---: |", len(protos)))
			}
			for _, st := range res.storesAt() {
				p("| %s |", st)
				for _, pr := range protos {
					p(" %s / %s |", res.latencyCrossing(cookieImpls[0], st, route, pr.Key, l), res.latencyCrossing(cookieImpls[1], st, route, pr.Key, l))
				}
				p("\n")
			}
			p("\n")
		}
	}

	p("\n### CPU: the session size from which a store uses less (server + store), securecookie format / compact\n\n")
	p("| store | read, %d/s | incr, %d/s | read, flat out | incr, flat out |\n| --- | ---: | ---: | ---: | ---: |\n", pl.Rate, pl.Rate)
	for _, st := range res.storesAt() {
		if st.rttMs != 0 {
			continue
		}
		p("| %s |", st)
		for _, mode := range []string{"rate", "closed"} {
			for _, route := range []string{"read", "incr"} {
				p(" %s / %s |", res.cpuCrossing(cookieImpls[0], st, route, mode), res.cpuCrossing(cookieImpls[1], st, route, mode))
			}
		}
		p("\n")
	}
	_, err := fmt.Fprintln(w)
	return err
}

func implIndex(name string) int {
	for i, im := range impls {
		if im.Name == name {
			return i
		}
	}
	panic("no implementation " + name)
}

func latencies(ph *phase) string {
	if ph.Requests == ph.Errors {
		return "—"
	}
	return fmt.Sprintf("%.2f / %.2f", ph.P50us/1e3, ph.P99us/1e3)
}

func cpuCell(ph *phase) string {
	if ph.Requests == ph.Errors {
		return "—"
	}
	if ph.StoreCPUus == 0 {
		return fmt.Sprintf("%.1f", ph.ServerCPUus)
	}
	return fmt.Sprintf("%.1f + %.1f", ph.ServerCPUus, ph.StoreCPUus)
}

func lost(expected, final int, none bool) string {
	if none {
		return "—"
	}
	return fmt.Sprintf("%d (%d → %d)", expected-final, expected, final)
}

// errCause names what failed, briefly.
func errCause(r *row) string {
	if r.GrowErrors > 0 {
		return fmt.Sprintf("%d of %d sessions could not be stored", r.GrowErrors, r.Clients)
	}
	for _, ph := range r.Phases {
		if ph.FirstErr != "" {
			return ph.FirstErr
		}
	}
	return "?"
}

func joinSizes(sizes []int, sep string) string {
	s := make([]string, len(sizes))
	for i, size := range sizes {
		s[i] = bytesLabel(float64(size))
	}
	return strings.Join(s, sep)
}

// String writes a plan for the report's JSON readers and logs.
func (p plan) String() string {
	return fmt.Sprintf("sizes %v, distances %v, %d clients, %d req/s for %s, flat out for %s",
		p.Sizes, p.Distances, p.Clients, p.Rate, p.AtRate.Round(time.Millisecond), p.FlatOut.Round(time.Millisecond))
}

// wireImpls are the implementations whose bytes the report tables: the
// stores' are scs-memstore's, whatever holds the session.
var wireImpls = []string{"no-session", "cookiesession", "cookiesession-compact", "gorilla-cookiestore", "scs-memstore"}

// wireCell writes a row's up and down bytes of a route in a protocol.
func wireCell(r *row, route, proto string) string {
	f := r.wire(route, proto)
	if f == nil {
		return "fails"
	}
	return fmt.Sprintf("%.0f / %.0f", f.UpB, f.DownB)
}

// writeWire writes the bytes measured on the wire, and what they model.
func (res *results) writeWire(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	pl := res.Plan
	p("\n## Bytes on the wire, over TLS: measured\n\n")
	p("Besides its plain HTTP/1.1 port, each server serves the same routes over TLS 1.3 with HTTP/1.1, with HTTP/2 and net/http's "+
		"default HPACK tables (4,096 bytes), and with HTTP/2 and 64 KB tables (the SETTINGS_HEADER_TABLE_SIZE it sends, and the most "+
		"of the client's it uses). After the load, at every size, one client per protocol opens one connection, grows its session, "+
		"and on that connection sends 2 requests of a route (the warm-up, which fills the tables), then %d more, counted: the bytes "+
		"it wrote (up) and read (down) on the TCP connection, TLS records whole, per request. Requests carry %s's header fields, as "+
		"it sent them to the demo over HTTP/2 (a link's navigation for read, a form's POST for incr; "+
		"`benchmarks/compare/chromium-headers.json`, recorded by `e2e/chromium_headers_test.go`), but cookies, which come from the "+
		"client's jar. HTTP/1.1 goes through net/http's client; HTTP/2 the comparison writes itself, with x/net's framer and "+
		"HPACK encoder, as Chromium does where it matters to the bytes: Chromium's SETTINGS (a 64 KB table for responses), its "+
		"pseudo-header order, every request's fields in one fixed order with the cookie's crumbs last (net/http's client "+
		"changes the order from request to request, which keeps more of an overflowing table than a browser does), and up to "+
		"64 KB of the server's table when the server offers it, as Chromium's HpackEncoder applies the server's "+
		"SETTINGS_HEADER_TABLE_SIZE as it comes. It indexes `:path`, which Chromium does not (a few bytes a request). "+
		"The cookies carry no `Secure` attribute here (the servers also serve plain HTTP): a browser-facing `Set-Cookie` is "+
		"8 bytes longer per cookie. Chromium's fields, cookies aside: %d for a read, %d for a change, pseudo-headers "+
		"included.\n\n",
		pl.WireRounds, res.Headers, len(chromiumHeaders.Routes["read"].Fields), len(chromiumHeaders.Routes["incr"].Fields))
	p("\"HTTP/2, no dynamic table\" is HTTP/2 whose client keeps no HPACK table for its requests (its encoder capped at 1 byte, " +
		"where no field fits), so every field goes from the static table or as a Huffman-coded literal. It is measured as the " +
		"basis of the HTTP/3 model below.\n\n")
	p("Chromium itself, counted on its own HTTP/2 connection to a test server by `e2e/chromium_headers_test.go` (every byte " +
		"it wrote between two requests, frames of any kind; a compact-format session, pages that link and post to themselves), " +
		"wrote per request:\n\n| case | cookies, bytes | unchanged (read) | changed (incr) |\n| --- | ---: | ---: | ---: |\n")
	for _, c := range chromiumHeaders.Wire {
		p("| %s, %s of session | %d, %d | %.0f | %.0f |\n", c.Case, bytesLabel(float64(c.SessionBytes)), c.Cookies, c.CookieBytes, c.ReadUpB, c.IncrUpB)
	}
	p("\n`TestWireAgreesWithChromium` holds the client here to these at the same session sizes: within 30 bytes a request " +
		"where the cookie is indexed, within 10%% where it is not (15%% for a changed cookie: Chromium's form sends a body, " +
		"the incr route none).\n\n")
	p("Cookies per request (default format / compact):")
	for i, size := range pl.Sizes {
		sep := ","
		if i == 0 {
			sep = ""
		}
		p("%s %s: %s / %s", sep, bytesLabel(float64(size)), res.cookieCount(cookieImpls[0], size), res.cookieCount(cookieImpls[1], size))
	}
	p(". A store's session ID is one cookie.\n\n")
	for _, route := range []string{"read", "incr"} {
		for _, pr := range res.Protocols {
			p("%s route, %s: bytes up / down per request\n\n| implementation | %s |\n| --- |%s\n",
				route, pr.Name, joinSizes(pl.Sizes, " | "), strings.Repeat(" ---: |", len(pl.Sizes)))
			for _, name := range wireImpls {
				p("| %s |", name)
				for _, size := range pl.Sizes {
					cell := "fails"
					if r := res.rowAt(name, size, 0); r != nil {
						cell = wireCell(r, route, pr.Key)
					}
					p(" %s |", cell)
				}
				p("\n")
			}
			p("\n")
		}
	}
	p("scs with Redis or PostgreSQL, at every distance, sent and received within %.0f bytes a request of what scs-memstore did "+
		"(every row is in the JSON): the wire does not see where a session lives.\n\n", res.storeWireSpread())

	p("## HTTP/3: a model\n\n")
	p("HTTP/3 is not measured: Go's standard library does not speak it. Its header compression, QPACK (RFC 9204), works like " +
		"HPACK with one difference that matters here: an encoder may use a dynamic table only up to the capacity the other end " +
		"advertises in SETTINGS_QPACK_MAX_TABLE_CAPACITY, whose default is 0. For requests, the server decides. Chromium's QUIC " +
		"stack (quiche) advertises 64 KB for its own decoder and uses what the server advertises, up to 64 KB; nginx advertises 4,096 bytes " +
		"(NGX_HTTP_V3_MAX_TABLE_CAPACITY); quic-go (Caddy, Go's HTTP/3 servers) has no dynamic table. So requests to a server " +
		"that enables a 4 KB table are modelled by the HTTP/2 figures, and to one that does not by the \"HTTP/2, no dynamic " +
		"table\" figures. QUIC frames differently from TLS over TCP (about 31 bytes per packet of about 1,200: a short header " +
		"with an 8-byte connection ID, the 16-byte tag, a STREAM frame; where TLS adds 22 bytes per record of up to 16 KB), so " +
		"the model is about 2.5%% low for a large cookie, and QPACK's static table differs from HPACK's by a few bytes a " +
		"request. These are modelled figures, not measured ones.\n")
}

// storeWireSpread is the largest difference, in bytes a request either
// way, between what scs with a remote store cost on the wire and what
// scs-memstore did, at the same size, route and protocol.
func (res *results) storeWireSpread() float64 {
	spread := 0.0
	for i := range res.Rows {
		r := &res.Rows[i]
		m := res.rowAt("scs-memstore", r.Size, 0)
		if !impls[implIndex(r.Impl)].remote() || m == nil {
			continue
		}
		for _, f := range r.Wire {
			if mf := m.wire(f.Route, f.Proto); mf != nil {
				spread = max(spread, math.Abs(f.UpB-mf.UpB), math.Abs(f.DownB-mf.DownB))
			}
		}
	}
	return spread
}

// rowAt returns the row of an implementation at a size and distance.
func (res *results) rowAt(name string, size, rttMs int) *row {
	for i := range res.Rows {
		r := &res.Rows[i]
		if r.Impl == name && (r.Size == size || impls[implIndex(name)].baseline()) && r.RTTms == rttMs && len(r.Wire) > 0 {
			return r
		}
	}
	return nil
}

// cookieCount says how many cookies a session of size took.
func (res *results) cookieCount(name string, size int) string {
	if r := res.rowAt(name, size, 0); r != nil {
		return strconv.Itoa(r.Cookies)
	}
	return "—"
}
