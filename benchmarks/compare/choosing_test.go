//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docs/choosing.md quotes two runs of the comparison: the first for
// latency and CPU, the second, over TLS, for the bytes on the wire and
// the crossovers drawn from them.
const (
	choosingPage = "../../docs/choosing.md"
	choosingRun  = "../results/compare-2026-12-01.json"
	choosingWire = "../results/compare-2026-12-07-tls.json"
)

// loadRun reads a run's results, checking the page links to them.
func loadRun(t *testing.T, page, path string) *results {
	t.Helper()
	name := strings.TrimPrefix(path, "../")
	require.True(t, strings.Contains(page, "(../benchmarks/"+name+")"), "docs/choosing.md names %s", name)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var res results
	require.NoError(t, json.Unmarshal(b, &res))
	require.NotEmpty(t, res.Rows)
	return &res
}

// sayer returns a check that a page says a text, verbatim but for white
// space.
func sayer(t *testing.T, name, page string) func(string) {
	return func(want string) {
		t.Helper()
		assert.True(t, strings.Contains(page, want), "%s does not say %q", name, want)
	}
}

// linkAt returns the run's link of a bit rate.
func linkAt(t *testing.T, res *results, mbps float64) link {
	t.Helper()
	i := slices.IndexFunc(res.Links, func(l link) bool { return l.Mbps == mbps })
	require.GreaterOrEqual(t, i, 0, "a link of %v Mbit/s", mbps)
	return res.Links[i]
}

// storeNamed names a store at a distance.
func storeNamed(name string, rtt int) storeAt { return storeAt{impls[implIndex(name)], rtt} }

// TestChoosingQuotesItsRun: every latency and CPU figure docs/choosing.md
// quotes from the first end-to-end comparison is the one its results file
// gives, worked out as the report works it out. A figure edited on the
// page, or a new run committed without the page following, fails here.
func TestChoosingQuotesItsRun(t *testing.T) {
	page := normalised(t, choosingPage)
	res := loadRun(t, page, choosingRun)
	says := sayer(t, "docs/choosing.md", page)
	at := storeNamed

	// The run as described.
	says(fmt.Sprintf("made on commit `%s` with", res.Commit[:7]))
	describesRun(t, page, res)
	m := regexp.MustCompile(`on (\d+) cores of an AMD EPYC in a virtual machine \(Linux ([\d.]+)\), Go ([\d.]+), Redis ([\d.]+) and PostgreSQL ([\d.]+)\.`).FindStringSubmatch(page)
	if assert.NotNil(t, m, "docs/choosing.md's machine") {
		assert.True(t, strings.HasPrefix(res.Machine, m[1]+" cores, AMD EPYC, Linux "+m[2]+"."), "the machine: %s", res.Machine)
		assert.Equal(t, "go"+m[3], res.Go)
		assert.True(t, strings.Contains(res.Stores, "v="+m[4]+" ") && strings.Contains(res.Stores, "(PostgreSQL) "+m[5]+" "), "the stores: %s", res.Stores)
	}
	says(fmt.Sprintf("at every size, %s included", bytesLabel(float64(res.Plan.Sizes[len(res.Plan.Sizes)-1]))))
	says(fmt.Sprintf("%d virtual clients, each with its own cookie jar", res.Plan.Clients))
	says(fmt.Sprintf("then send %d requests a second in all, for %g s per route", res.Plan.Rate, res.Plan.AtRate.Seconds()))
	says(fmt.Sprintf("one run of %g s per route, about %s requests", res.Plan.AtRate.Seconds(), thousands(float64(res.Plan.Rate)*res.Plan.AtRate.Seconds())))
	says(fmt.Sprintf("**CPU.** Server plus store, per request, at %d requests a second", res.Plan.Rate))
	says("Redis and PostgreSQL are 0, 1 or 5 ms of round trip away")
	var swept []string
	for _, size := range res.Plan.Sizes {
		swept = append(swept, bytesLabel(float64(size)))
	}
	says("grow their session to " + strings.Join(swept[:len(swept)-1], ", ") + " or " + swept[len(swept)-1] + " of JSON")
	says(fmt.Sprintf("at %d requests a second, cookiesession answers", res.Plan.Rate))
	says(fmt.Sprintf("One client with %d increments in flight at once (%d in all)", res.Plan.SameJarWorkers, res.Plan.SameJarRequests))
	assert.Equal(t, []float64{float64(res.Plan.SameJarRequests)}, slices.Compact(sameJarKept(res, "scs-memstore")), "scs-memstore kept every increment")
	says(fmt.Sprintf("Its in-memory store kept all %d here", res.Plan.SameJarRequests))
	require.Equal(t, []time.Duration{0, time.Millisecond, 5 * time.Millisecond}, res.Plan.Distances)
	var rtts []string
	for _, r := range res.StoreRTTs {
		if r.AskedMs > 0 {
			rtts = append(rtts, fmt.Sprintf("%.2f", r.P50ms))
		}
	}
	require.Len(t, rtts, 4)
	says(fmt.Sprintf("(measured through it: %s and %s ms to Redis, %s and %s ms to PostgreSQL)", rtts[0], rtts[1], rtts[2], rtts[3]))
	require.Equal(t, []string{"redis", "redis", "postgres", "postgres"}, []string{res.StoreRTTs[1].Store, res.StoreRTTs[2].Store, res.StoreRTTs[4].Store, res.StoreRTTs[5].Store}, "the store round trips' order")
	share := regexp.MustCompile(`\(([\d.]+%) of one core\)`).FindStringSubmatch(res.Others)
	require.NotNil(t, share, res.Others)
	says("Other processes used " + share[1] + " of one core during the run")

	// Size limits: the Cookie header of the largest session, and of the
	// most that travels everywhere.
	cookieB := func(impl string) []float64 {
		return res.series(impl, 0, "incr", "rate", func(_ *row, ph *phase) float64 { return ph.CookieB })
	}
	big, mid := len(res.Plan.Sizes)-1, slices.Index(res.Plan.Sizes, 3584)
	require.GreaterOrEqual(t, mid, 0)
	says(fmt.Sprintf("%s of session is %s bytes of `Cookie` header in the securecookie format (%s compact)",
		bytesLabel(float64(res.Plan.Sizes[big])), thousands(cookieB(cookieImpls[0])[big]), thousands(cookieB(cookieImpls[1])[big])))
	says(fmt.Sprintf("%s of session (%s bytes, or %s compact) is about the most that travels everywhere",
		bytesLabel(float64(res.Plan.Sizes[mid])), thousands(cookieB(cookieImpls[0])[mid]), thousands(cookieB(cookieImpls[1])[mid])))
	says(fmt.Sprintf("CookieStore failed every request at %s and %s", bytesLabel(float64(res.failsFrom("gorilla-cookiestore"))), bytesLabel(float64(res.Plan.Sizes[big]))))
	require.Equal(t, res.Plan.Sizes[mid], res.failsFrom("gorilla-cookiestore"))

	// A store's session ID, in the trade-offs and in redisrevocation's
	// README.
	scsCookie := thousands(res.series("scs-memstore", 0, "incr", "rate", func(_ *row, ph *phase) float64 { return ph.CookieB })[0])
	says("(scs: " + scsCookie + " bytes of `Cookie` header)")
	assert.True(t, strings.Contains(normalised(t, "../../redisrevocation/README.md"), "the session ID (scs: "+scsCookie+" B of `Cookie`)"), "redisrevocation/README.md's scs cookie")

	// CPU per request at the fixed rate.
	cpuAt := func(impl string, route string) []float64 { return res.series(impl, 0, route, "rate", cpu) }
	cpuSizes := []int{64, 2048, 8192}
	header := "| session (JSON) |"
	for _, size := range cpuSizes {
		header += " " + bytesLabel(float64(size)) + " |"
	}
	says(header)
	for _, r := range []struct{ label, impl string }{
		{"cookiesession, read / change", "cookiesession"},
		{"cookiesession compact", "cookiesession-compact"},
		{"scs + in-memory store", "scs-memstore"},
		{"scs + Redis (+0 ms)", "scs-redis"},
		{"scs + PostgreSQL (+0 ms)", "scs-postgres"},
	} {
		read, change := cpuAt(r.impl, "read"), cpuAt(r.impl, "incr")
		row := "| " + r.label + " |"
		for _, size := range cpuSizes {
			i := slices.Index(res.Plan.Sizes, size)
			row += fmt.Sprintf(" %s / %s µs |", thousands(read[i]), thousands(change[i]))
		}
		says(row)
	}

	// PostgreSQL's latency table: p50 over every size.
	p50 := func(_ *row, ph *phase) float64 { return ph.P50us / 1000 }
	for _, rtt := range []int{1, 5} {
		row := fmt.Sprintf("| %d ms away |", rtt)
		for _, route := range []string{"read", "incr"} {
			ms := res.series("scs-postgres", rtt, route, "rate", p50)
			row += fmt.Sprintf(" %.1f–%.1f ms |", slices.Min(ms), slices.Max(ms))
		}
		says(row)
	}

	// Ranges quoted in prose: each pair of figures is the least and the
	// most of a set of figures of the run, as written.
	p50ms := func(impl string, rtt int, routes ...string) []float64 {
		var out []float64
		for _, route := range routes {
			for _, v := range res.series(impl, rtt, route, "rate", p50) {
				if !math.IsNaN(v) {
					out = append(out, v)
				}
			}
		}
		return out
	}
	baseline := func(route, mode string, figure func(*row, *phase) float64) []float64 {
		var out []float64
		for i := range res.Rows {
			if r := &res.Rows[i]; r.Impl == "no-session" {
				out = append(out, figure(r, r.phase(route, mode)))
			}
		}
		return out
	}
	cpuCross := func(st storeAt, mode, cookie string, routes ...string) []float64 {
		var out []float64
		for _, route := range routes {
			c := res.cpuCrossing(cookie, st, route, mode)
			require.Equal(t, "at", c.Kind, "CPU, %s, %s, %s %s", cookie, st, route, mode)
			out = append(out, c.At/1024)
		}
		return out
	}
	r0, mem := at("scs-redis", 0), at("scs-memstore", 0)
	joined := func(sets ...[]float64) []float64 { return slices.Concat(sets...) }
	for _, r := range []quotedRange{
		{`cookiesession answers at p50 in ([\d.]+) to ([\d.]+) ms at every size`, false, [][]float64{
			joined(p50ms("cookiesession", 0, "read", "incr"), p50ms("cookiesession-compact", 0, "read", "incr")),
		}},
		{`net/http with no session at all answers in ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			joined(baseline("read", "rate", p50), baseline("incr", "rate", p50)),
		}},
		{`scs with Redis 1 ms away answers a read in ([\d.]+) to ([\d.]+) ms and a change in ([\d.]+) to ([\d.]+) ms; 5 ms away, in ([\d.]+) to ([\d.]+) ms and ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			p50ms("scs-redis", 1, "read"), p50ms("scs-redis", 1, "incr"), p50ms("scs-redis", 5, "read"), p50ms("scs-redis", 5, "incr"),
		}},
		{`scs answers in ([\d.]+) to ([\d.]+) ms, and with its in-memory store \(which no second replica can read\) in ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			joined(p50ms("scs-redis", 0, "read", "incr"), p50ms("scs-postgres", 0, "read", "incr")), p50ms("scs-memstore", 0, "read", "incr"),
		}},
		{`net/http alone took (\d+) to (\d+) µs a request here`, false, [][]float64{
			joined(baseline("read", "rate", cpu), baseline("incr", "rate", cpu)),
		}},
		{`against (\d+) µs with the clients flat out`, false, [][]float64{baseline("incr", "closed", cpu)}},
		{`it used less than the in-memory store below about (\d+) to (\d+) KB in the securecookie format \(([\d.]+) to ([\d.]+) KB compact\)`, true, [][]float64{
			cpuCross(mem, "rate", "cookiesession", "read", "incr"), cpuCross(mem, "rate", "cookiesession-compact", "read", "incr"),
		}},
		{`the securecookie format passed scs with Redis at about (\d+) KB`, true, [][]float64{
			cpuCross(r0, "closed", "cookiesession", "read", "incr"),
		}},
		{`kept (\d+) to (\d+) of them with a cookie session`, false, [][]float64{
			joined(sameJarKept(res, "cookiesession"), sameJarKept(res, "cookiesession-compact")),
		}},
		{`scs kept (\d+) to (\d+) with Redis and (\d+) to (\d+) with PostgreSQL`, false, [][]float64{
			sameJarKept(res, "scs-redis"), sameJarKept(res, "scs-postgres"),
		}},
	} {
		checkRange(t, "docs/choosing.md", page, r)
	}
	// Counting the stores' CPU, the cookie session used less at every
	// size than scs with Redis or PostgreSQL, at the fixed rate.
	for _, st := range []storeAt{r0, at("scs-postgres", 0)} {
		for _, route := range []string{"read", "incr"} {
			for _, cookie := range cookieImpls {
				assert.Equal(t, "never", res.cpuCrossing(cookie, st, route, "rate").Kind, "CPU of %s against %s, %s", cookie, st, route)
			}
		}
	}
	says("Counting Redis's or PostgreSQL's own CPU, the cookie session used less at every size to 8 KB")
}

// TestChoosingQuotesItsWireRun: every figure docs/choosing.md and the
// README's verdict quote from the run over TLS (the bytes on the wire per
// protocol, the crossovers drawn from them, and the prose and summaries
// that draw on both) is the one its results file gives, worked out as
// the report works it out; and Chromium's own bytes are the ones the e2e
// suite recorded in chromium-headers.json.
func TestChoosingQuotesItsWireRun(t *testing.T) {
	page := normalised(t, choosingPage)
	readme := normalised(t, "../../README.md")
	res := loadRun(t, page, choosingWire)
	says := sayer(t, "docs/choosing.md", page)
	readmeSays := sayer(t, "README.md", readme)
	at := storeNamed
	sizes := res.Plan.Sizes
	up := func(name, route, proto string) []float64 {
		out := make([]float64, len(sizes))
		for i, size := range sizes {
			r := res.rowAt(name, size, 0)
			require.NotNil(t, r, "%s at %d B", name, size)
			out[i] = upB(r, route, proto)
		}
		return out
	}
	protoName := func(key string) string {
		i := slices.IndexFunc(res.Protocols, func(p protocol) bool { return p.Key == key })
		require.GreaterOrEqual(t, i, 0, key)
		return res.Protocols[i].Name
	}
	cross := func(st storeAt, route, proto string, mbps float64) []crossing {
		var out []crossing
		for _, cookie := range cookieImpls {
			out = append(out, res.latencyCrossing(cookie, st, route, proto, linkAt(t, res, mbps)))
		}
		return out
	}
	cell := func(cs []crossing) string { return cs[0].String() + " / " + cs[1].String() }

	// The run as described.
	says(fmt.Sprintf("on commit `%s` with", res.Commit[:7]))
	describesRun(t, page, res)
	says("on the same machine and plan")
	first := loadRun(t, page, choosingRun)
	assert.Equal(t, first.Plan.Sizes, res.Plan.Sizes, "the same plan")
	assert.Equal(t, first.Plan.Distances, res.Plan.Distances, "the same plan")
	assert.Equal(t, first.Plan.Rate, res.Plan.Rate, "the same plan")
	assert.Equal(t, first.Go, res.Go, "the same machine")
	share := regexp.MustCompile(`\(([\d.]+%) of one core\)`).FindStringSubmatch(res.Others)
	require.NotNil(t, share, res.Others)
	says("while other processes used " + share[1] + " of one core")
	says(fmt.Sprintf("%d fields for a read, cookies aside, %.0f bytes with TLS over HTTP/1.1 with no cookie at all",
		len(chromiumHeaders.Routes["read"].Fields), up("no-session", "read", "h1")[0]))
	says(fmt.Sprintf("net/http's default %s-byte HPACK tables, and with HTTP/2 and %s tables", thousands(float64(endpoints[1].Table)), bytesLabel(float64(endpoints[2].Table))))

	// The bytes up of a read, and up / down of a change, per protocol.
	formats := []struct{ label, impl string }{
		{"securecookie format", cookieImpls[0]}, {"compact format", cookieImpls[1]}, {"scs, any store", "scs-memstore"},
	}
	for _, f := range formats {
		for _, pr := range res.Protocols {
			row := "| " + f.label + ", " + pr.Name + " |"
			for _, b := range up(f.impl, "read", pr.Key) {
				row += fmt.Sprintf(" %.0f |", b)
			}
			says(row)
		}
		for _, key := range []string{"h1", "h2"} {
			row := "| " + f.label + ", " + protoName(key) + " |"
			for _, size := range sizes {
				w := res.rowAt(f.impl, size, 0).wire("incr", key)
				require.NotNil(t, w)
				row += fmt.Sprintf(" %.0f / %.0f |", w.UpB, w.DownB)
			}
			says(row)
		}
	}
	swept := ""
	for _, size := range sizes {
		swept += " " + bytesLabel(float64(size)) + " |"
	}
	says("| unchanged session (read): bytes up |" + swept)
	says("| changed session (incr): bytes up / down |" + swept)
	// A changed cookie over HTTP/2, a literal, against HTTP/1.1's text:
	// the bytes a change costs beyond a store's ID, against the Cookie
	// header as HTTP/1.1 sends it.
	var saved, savedBig []float64
	for _, impl := range cookieImpls {
		for i, size := range sizes {
			r := res.rowAt(impl, size, 0)
			literal := r.wire("incr", "h2").UpB - res.rowAt("scs-memstore", size, 0).wire("incr", "h2").UpB
			pct := 100 * (1 - literal/r.phase("incr", "rate").CookieB)
			saved = append(saved, pct)
			if i == len(sizes)-1 {
				savedBig = append(savedBig, pct)
			}
		}
	}
	checkRange(t, "docs/choosing.md", page, quotedRange{`HTTP/2 sends a changed cookie as a literal, Huffman-coded, (\d+) to (\d+)% smaller than HTTP/1.1's text \((\d+) to (\d+)% at ` + bytesLabel(float64(sizes[len(sizes)-1])) + ` of session\)`, false, [][]float64{saved, savedBig}})
	// "any store": the wire does not see where a session lives.
	assert.LessOrEqual(t, res.storeWireSpread(), 10.0, "scs's bytes with a remote store")

	// HTTP/2 with the default table: a read is as cheap as a store's ID
	// while the cookie fits. The largest size where it does, per format.
	storeRead := up("scs-memstore", "read", "h2")
	says(fmt.Sprintf("So a read of an unchanged session costs %.0f bytes", storeRead[0]))
	says(fmt.Sprintf("costs a cookie session %.0f bytes a request, as a store's ID does", storeRead[0]))
	says(fmt.Sprintf("as an index into the connection's header table, %.0f bytes a request", storeRead[0]))
	table := bytesLabel(float64(endpoints[1].Table))
	says("as long as the cookie fits the server's " + table + " header table")
	says("within the server's " + table + " header table")
	says("until it overflows the " + table + " table")
	says("as long as it fits the server's table (" + table + " unless the server offers more)")
	readmeSays("the server's " + table + " header table")
	says(fmt.Sprintf("a field already in the table the server allows (%s bytes unless its SETTINGS_HEADER_TABLE_SIZE says more)", thousands(float64(endpoints[1].Table))))
	says(fmt.Sprintf("with %s (in Go, `http.Server`'s `HTTP2.MaxDecoderHeaderTableSize`", bytesLabel(float64(endpoints[2].Table))))
	fits := func(impl string) string {
		last := -1
		for i, b := range up(impl, "read", "h2") {
			if b <= slices.Max(storeRead)+3 {
				last = i
			}
		}
		require.GreaterOrEqual(t, last, 0, impl)
		return bytesLabel(float64(sizes[last]))
	}
	says(fmt.Sprintf("here up to %s of session in the compact format, %s in the securecookie one", fits(cookieImpls[1]), fits(cookieImpls[0])))
	says(fmt.Sprintf("(here up to %s of session in the securecookie format, %s in the compact one)", fits(cookieImpls[0]), fits(cookieImpls[1])))
	readmeSays(fmt.Sprintf("(up to %s of session in the compact format)", fits(cookieImpls[1])))
	says("(well under " + strings.TrimSuffix(fits(cookieImpls[0]), " B") + " bytes of JSON), a read costs a cookie session")
	// Beyond the table, HTTP/2 costs a read what HTTP/1.1 does less about
	// a fifth.
	for _, impl := range cookieImpls[:2] {
		h1, h2 := up(impl, "read", "h1"), up(impl, "read", "h2")
		for i := range sizes {
			if h2[i] > 2*storeRead[i] {
				assert.InDelta(t, 0.2, 1-h2[i]/h1[i], 0.03, "%s at %d B: HTTP/2 saves about a fifth", impl, sizes[i])
			}
		}
	}
	// A 64 KB table keeps 8 KB of session indexed.
	big := len(sizes) - 1
	says(fmt.Sprintf("%s of session in %s or %s cookies costs a read %.0f or %.0f bytes", bytesLabel(float64(sizes[big])),
		numberWord(res.rowAt(cookieImpls[1], sizes[big], 0).Cookies), numberWord(res.rowAt(cookieImpls[0], sizes[big], 0).Cookies),
		up(cookieImpls[1], "read", "h2-64k")[big], up(cookieImpls[0], "read", "h2-64k")[big]))

	// Chromium's own bytes, as the e2e suite counted them.
	wire := func(c string) browserWire {
		i := slices.IndexFunc(chromiumHeaders.Wire, func(w browserWire) bool { return w.Case == c })
		require.GreaterOrEqual(t, i, 0, c)
		return chromiumHeaders.Wire[i]
	}
	one, crowd, three, three64 := wire("one cookie, 4 KB table"), wire("one cookie that crowds a 4 KB table"), wire("three cookies, 4 KB table"), wire("three cookies, 64 KB table")
	says(fmt.Sprintf("%.0f bytes a read with an %d-byte cookie, %.0f with a %d-byte one", one.ReadUpB, one.CookieBytes, crowd.ReadUpB, crowd.CookieBytes))
	require.Equal(t, three.CookieBytes, three64.CookieBytes)
	says(fmt.Sprintf("%s cookies (%d bytes) cost it %.0f bytes a read with a %s table, %.0f with the default one",
		numberWord(three.Cookies), three.CookieBytes, three64.ReadUpB, bytesLabel(float64(three64.Table)), three.ReadUpB))

	// The crossovers, per route, link and protocol.
	stores := []struct {
		label string
		st    storeAt
	}{
		{"scs + Redis, +1 ms", at("scs-redis", 1)},
		{"scs + Redis, +5 ms", at("scs-redis", 5)},
		{"scs + PostgreSQL, +1 ms", at("scs-postgres", 1)},
		{"scs + PostgreSQL, +5 ms", at("scs-postgres", 5)},
	}
	header := "| store |"
	for _, pr := range res.Protocols {
		header += " " + pr.Name + " |"
	}
	header += " |"
	for _, tb := range []struct {
		intro string
		route string
		mbps  float64
	}{
		{"on a 1 Mbit/s uplink:", "incr", 1},
		{"and on 10 Mbit/s:", "incr", 10},
		{"For a read of an unchanged session (one store round trip), on 1 Mbit/s:", "read", 1},
		{"and on 10 Mbit/s:", "read", 10},
	} {
		table := tb.intro + " " + header + " --- |" + strings.Repeat(" ---: |", len(res.Protocols))
		for _, s := range stores {
			table += " | " + s.label + " |"
			for _, pr := range res.Protocols {
				table += " " + cell(cross(s.st, tb.route, pr.Key, tb.mbps)) + " |"
			}
		}
		says(table)
	}

	// The prose drawn from the crossovers.
	p1 := []storeAt{at("scs-redis", 1), at("scs-postgres", 1)}
	p5 := []storeAt{at("scs-redis", 5), at("scs-postgres", 5)}
	every := func(st []storeAt, route string, mbps float64, keys ...string) []crossing {
		if len(keys) == 0 {
			for _, pr := range res.Protocols {
				keys = append(keys, pr.Key)
			}
		}
		var out []crossing
		for _, s := range st {
			for _, key := range keys {
				out = append(out, cross(s, route, key, mbps)...)
			}
		}
		return out
	}
	// sizesOf is where each crossover falls, "always" at the smallest
	// size; a "never" fails, as no range quoted includes one.
	sizesOf := func(cs []crossing) []float64 {
		var out []float64
		for _, c := range cs {
			switch c.Kind {
			case "at":
				out = append(out, c.At)
			case "always":
				out = append(out, float64(sizes[0]))
			default:
				t.Fatalf("a range quoted includes %q", c.Kind)
			}
		}
		return out
	}
	kb := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x / 1024
		}
		return out
	}
	for _, r := range []quotedRange{
		{`a change is faster with a store 1 ms away from (\d+) to about (\d+) bytes of session on 1 Mbit/s, from about ([\d.]+) to ([\d.]+) KB on 10 Mbit/s`, true, [][]float64{
			sizesOf(every(p1, "incr", 1)), kb(sizesOf(every(p1, "incr", 10))),
		}},
		{`one 1 ms away from (\d+) to about (\d+) B; on 10 Mbit/s`, true, [][]float64{sizesOf(every(p1, "incr", 1))}},
		{`on 1 Mbit/s a store 5 ms away wins changes from about (\d+) to (\d+) bytes of session`, true, [][]float64{sizesOf(every(p5, "incr", 1, "h2"))}},
	} {
		checkRange(t, "docs/choosing.md", page, r)
	}
	// "from under 200": the most of the 1 ms crossovers for a change on
	// 1 Mbit/s, and the least on 1 Mbit/s from 5 ms away against that.
	assert.Less(t, slices.Max(sizesOf(every(p1, "incr", 1))), 200.0, "a store 1 ms away wins changes on 1 Mbit/s from under 200 bytes")
	says("one 1 ms away from under 200")
	readmeSays("on 1 Mbit/s the store won changes from under 200 bytes")
	redis1, redis5 := p1[0], p5[0]
	says(fmt.Sprintf("on 1 Mbit/s a store 5 ms away wins from %s of session over HTTP/2", cell(cross(redis5, "incr", "h2", 1))))
	says(fmt.Sprintf("on 10 Mbit/s one 1 ms away from %s over HTTP/2, one 5 ms away not below %s", cell(cross(redis1, "incr", "h2", 10)), bytesLabel(float64(sizes[big]))))
	says(fmt.Sprintf("until it overflows the %s table (%s against Redis 1 ms away)", bytesLabel(float64(endpoints[1].Table)), cell(cross(redis1, "read", "h2", 1))))
	// A store 5 ms away does not win a change below 8 KB on 10 Mbit/s
	// over HTTP/2; over HTTP/1.1 the securecookie format is the exception.
	for _, c := range every(p5, "incr", 10, "h2", "h2-64k", "h2-static") {
		assert.Equal(t, "never", c.Kind, "a store 5 ms away, a change on 10 Mbit/s over HTTP/2")
	}
	// Reads over HTTP/1.1 against a store 1 ms away: the store wins from
	// 64 B on 1 Mbit/s; over HTTP/3 without a table, from 64 B or about.
	for _, c := range every(p1, "read", 1, "h1") {
		assert.Equal(t, "always", c.Kind, "a read over HTTP/1.1 against a store 1 ms away on 1 Mbit/s")
	}
	h3 := every(p1, "read", 1, "h2-static") // Redis, PostgreSQL; each securecookie, compact
	for _, c := range h3[:3] {
		assert.Equal(t, "always", c.Kind, "a read over HTTP/3 without a table against a store 1 ms away on 1 Mbit/s")
	}
	require.Equal(t, "at", h3[3].Kind)
	says(fmt.Sprintf("a store 1 ms away is faster from %s on 1 Mbit/s (from about %.0f B for the compact format against PostgreSQL over HTTP/3)",
		bytesLabel(float64(sizes[0])), h3[3].At))
	// Against the first run's model (HTTP/1.1, the Go client's request
	// with a store's ID, no TLS), the store won reads on 1 Mbit/s from the
	// smallest size.
	idB := first.series("scs-memstore", 0, "read", "rate", func(_ *row, ph *phase) float64 { return ph.RequestB })
	requestFelt := func(_ *row, ph *phase) float64 { return feltMicros(ph, ph.RequestB, linkAt(t, first, 1)) }
	var firstModel []crossing
	for _, st := range p1 {
		for _, cookie := range cookieImpls {
			firstModel = append(firstModel, crossover(first.Plan.Sizes, first.series(cookie, 0, "read", "rate", requestFelt), first.series(st.impl.Name, st.rttMs, "read", "rate", requestFelt)))
		}
	}
	says(fmt.Sprintf("Against the model of the first run (HTTP/1.1, the Go client's %.0f-byte request, no TLS), the reads on 1 Mbit/s moved most: from \"the store wins from %.0f to %.0f B\" to %s over HTTP/2.",
		idB[0], slices.Min(sizesOf(firstModel)), slices.Max(sizesOf(firstModel)), cell(cross(redis1, "read", "h2", 1))))
	says(fmt.Sprintf("and with a %s table at every size measured", bytesLabel(float64(endpoints[2].Table))))
	says(fmt.Sprintf("\"never\" means the cookie session was still faster at %s, the largest size measured", bytesLabel(float64(sizes[big]))))
	says(fmt.Sprintf("\"always\", that the store was faster from %s.", bytesLabel(float64(sizes[0]))))
	// With a 64 KB table the cookie session is faster at every size for
	// reads; at 100 Mbit/s for everything.
	for _, c := range every(slices.Concat(p1, p5), "read", 1, "h2-64k") {
		assert.Equal(t, "never", c.Kind, "a read with a 64 KB table")
	}
	for _, route := range []string{"read", "incr"} {
		for _, c := range every(slices.Concat(p1, p5), route, 100) {
			assert.Equal(t, "never", c.Kind, "%s at 100 Mbit/s", route)
		}
	}
	says("At 100 Mbit/s the cookie session was faster than a store 1 or 5 ms away at every size measured, in every protocol, for changes and reads")
	readmeSays("a cookie session was faster than Redis or PostgreSQL a millisecond away at every size on a 100 Mbit/s uplink")
	// Small sessions on 10 Mbit/s and more: a change is faster with the
	// cookie than with a store a millisecond or more away.
	for _, c := range every(slices.Concat(p1, p5), "incr", 10, "h2") {
		assert.True(t, c.Kind == "never" || c.At > 512, "a change of a small session on 10 Mbit/s over HTTP/2: %s", c)
	}
	says("the cookie session is faster than a store a millisecond or more away on 10 Mbit/s and more")

	// The rule: what a millisecond is worth on each link.
	for _, w := range []struct {
		mbps  float64
		label string
	}{{1, "125 bytes on a 1 Mbit/s uplink"}, {10, "1.25 KB on 10 Mbit/s"}, {100, "12.5 KB on 100 Mbit/s"}} {
		n, _ := strconv.ParseFloat(strings.Fields(w.label)[0], 64)
		if strings.Contains(w.label, "KB") {
			n *= 1000
		}
		assert.InDelta(t, 1000, uploadMicros(n, linkAt(t, res, w.mbps)), 1e-9, w.label)
		says(w.label)
	}
}

// describesRun checks the command a page gives for a run, and how long
// the run took, to the half minute.
func describesRun(t *testing.T, page string, res *results) {
	t.Helper()
	m := regexp.MustCompile("flock /tmp/bench.lock " + regexp.QuoteMeta(res.Command) + ` +# about ([\d.]+) minutes`).FindStringSubmatch(page)
	if !assert.NotNil(t, m, "docs/choosing.md gives the command %q", res.Command) {
		return
	}
	took := regexp.MustCompile(`during the run's (\d+) s`).FindStringSubmatch(res.Others)
	require.NotNil(t, took, res.Others)
	secs, err := strconv.ParseFloat(took[1], 64)
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatFloat(math.Round(secs/30)/2, 'f', -1, 64), m[1], "%s took %s s", res.Command, took[1])
}

// quotedRange is a sentence of a page quoting ranges of a run: each pair
// of figures is the least and the most of a set ("about": to the
// figure's significant digits); one figure for a set stands for both.
type quotedRange struct {
	pattern string
	about   bool
	sets    [][]float64
}

// checkRange checks a quoted range against the run.
func checkRange(t *testing.T, name, page string, r quotedRange) {
	t.Helper()
	m := regexp.MustCompile(r.pattern).FindStringSubmatch(page)
	if !assert.NotNil(t, m, "%s no longer says %s", name, r.pattern) {
		return
	}
	figures := m[1:]
	if len(figures) == len(r.sets) { // one figure for a set: "about 4 KB"
		figures = make([]string, 0, 2*len(r.sets))
		for _, f := range m[1:] {
			figures = append(figures, f, f)
		}
	}
	require.Len(t, figures, 2*len(r.sets), r.pattern)
	for i, set := range r.sets {
		require.NotEmpty(t, set, r.pattern)
		assertRounded(t, figures[2*i], slices.Min(set), r.about, "least of %v, in %q", set, m[0])
		assertRounded(t, figures[2*i+1], slices.Max(set), r.about, "most of %v, in %q", set, m[0])
	}
}

// numberWord writes a small count as the page does.
func numberWord(n int) string {
	return [...]string{"no", "one", "two", "three", "four", "five"}[n]
}

// sameJarKept is what each of an implementation's rows kept of the
// increments sent by one client with several in flight.
func sameJarKept(res *results, impl string) []float64 {
	var out []float64
	for _, r := range res.Rows {
		if r.Impl == impl && r.SameJar.Sent > 0 {
			out = append(out, float64(r.SameJar.Final))
		}
	}
	return out
}

// assertRounded checks that written is value as rounded to the digits
// written; "about" a figure, to its significant digits (about 170: to the
// nearest ten).
func assertRounded(t *testing.T, written string, value float64, about bool, msgAndArgs ...any) {
	t.Helper()
	got, err := strconv.ParseFloat(written, 64)
	require.NoError(t, err)
	decimals := 0
	if _, frac, ok := strings.Cut(written, "."); ok {
		decimals = len(frac)
	}
	step := math.Pow10(-decimals)
	if about && decimals == 0 {
		for s := strings.TrimLeft(written, "0"); strings.HasSuffix(s, "0"); s = s[:len(s)-1] {
			step *= 10
		}
	}
	if math.Abs(got-value) <= step/2+1e-9 {
		return
	}
	assert.Fail(t, fmt.Sprintf("the page says %s where the run gives %.4g", written, value), msgAndArgs...)
}

// thousands writes a whole number with commas between thousands, as the
// page does: 1,268.
func thousands(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// normalised returns a markdown page with every run of white space a
// single space, so that a figure is found however the lines wrap.
func normalised(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Join(strings.Fields(string(b)), " ")
}
