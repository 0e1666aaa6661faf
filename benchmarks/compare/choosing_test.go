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

// docs/choosing.md quotes one run of the comparison; these are the page
// and that run's results.
const (
	choosingPage = "../../docs/choosing.md"
	choosingRun  = "../results/compare-2026-12-01.json"
)

// TestChoosingQuotesItsRun: every figure docs/choosing.md quotes from the
// end-to-end comparison is the one its results file gives, worked out as
// the report works it out. A figure edited on the page, or a new run
// committed without the page following, fails here.
func TestChoosingQuotesItsRun(t *testing.T) {
	page := normalised(t, choosingPage)
	require.True(t, strings.Contains(page, "(../benchmarks/results/compare-2026-12-01.json)"), "docs/choosing.md names its results file")
	b, err := os.ReadFile(choosingRun)
	require.NoError(t, err)
	var res results
	require.NoError(t, json.Unmarshal(b, &res))
	require.NotEmpty(t, res.Rows)
	says := func(want string) {
		t.Helper()
		assert.True(t, strings.Contains(page, want), "docs/choosing.md does not say %q", want)
	}
	link := func(mbps float64) link {
		i := slices.IndexFunc(res.Links, func(l link) bool { return l.Mbps == mbps })
		require.GreaterOrEqual(t, i, 0, "a link of %v Mbit/s", mbps)
		return res.Links[i]
	}
	at := func(name string, rtt int) storeAt { return storeAt{impls[implIndex(name)], rtt} }
	cross := func(st storeAt, route string, mbps float64) []crossing {
		var out []crossing
		for _, cookie := range cookieImpls {
			out = append(out, res.latencyCrossing(cookie, st, route, link(mbps)))
		}
		return out
	}
	largest := bytesLabel(float64(res.Plan.Sizes[len(res.Plan.Sizes)-1]))

	// The run as described.
	says(fmt.Sprintf("%d virtual clients, each with its own cookie jar", res.Plan.Clients))
	says(fmt.Sprintf("then send %d requests a second in all, for %g s per route", res.Plan.Rate, res.Plan.AtRate.Seconds()))
	says("Redis and PostgreSQL are 0, 1 or 5 ms of round trip away")
	require.Equal(t, []time.Duration{0, time.Millisecond, 5 * time.Millisecond}, res.Plan.Distances)
	for _, r := range res.StoreRTTs {
		if r.AskedMs > 0 {
			says(fmt.Sprintf("%.2f", r.P50ms))
		}
	}
	share := regexp.MustCompile(`\(([\d.]+%) of one core\)`).FindStringSubmatch(res.Others)
	require.NotNil(t, share, res.Others)
	says("Other processes used " + share[1] + " of one core during the run")

	// The table of crossovers for a change, and the reads in prose.
	stores := []struct {
		label string
		st    storeAt
	}{
		{"scs + Redis, +1 ms", at("scs-redis", 1)},
		{"scs + Redis, +5 ms", at("scs-redis", 5)},
		{"scs + PostgreSQL, +1 ms", at("scs-postgres", 1)},
		{"scs + PostgreSQL, +5 ms", at("scs-postgres", 5)},
	}
	for _, s := range stores {
		row := "| " + s.label + " |"
		for _, mbps := range []float64{100, 10, 1} {
			cs := cross(s.st, "incr", mbps)
			if cs[0].Kind == "never" && cs[1].Kind == "never" {
				row += " beyond " + largest + " |"
				continue
			}
			row += " " + cs[0].String() + " / " + cs[1].String() + " |"
		}
		says(row)
	}
	r5, pg1 := cross(at("scs-redis", 5), "read", 10), cross(at("scs-postgres", 1), "read", 1)
	r5slow := cross(at("scs-redis", 5), "read", 1)
	says(fmt.Sprintf("against Redis 5 ms away, the cookie session is faster below %s / %s on 10 Mbit/s and %s / %s on 1 Mbit/s",
		r5[0], r5[1], r5slow[0], r5slow[1]))
	require.Equal(t, "always", pg1[0].Kind)
	says(fmt.Sprintf("from %s for the compact format against PostgreSQL", pg1[1]))

	// Request bytes, and the rule drawn from them.
	storeBytes := res.series("scs-memstore", 0, "read", "rate", func(ph *phase) float64 { return ph.RequestB })
	says(fmt.Sprintf("The request as sent here is %.0f bytes with a store's session ID", storeBytes[0]))
	for i, label := range []string{"securecookie format", "compact format"} {
		row := "| " + label + " |"
		for _, n := range res.series(cookieImpls[i], 0, "read", "rate", func(ph *phase) float64 { return ph.RequestB }) {
			row += " " + thousands(n) + " B |"
		}
		says(row)
	}
	cookieB := func(impl string) []float64 {
		return res.series(impl, 0, "incr", "rate", func(ph *phase) float64 { return ph.CookieB })
	}
	sizes := make([]float64, len(res.Plan.Sizes))
	for i, s := range res.Plan.Sizes {
		sizes[i] = float64(s)
	}
	rule := regexp.MustCompile(`about ([\d.]+) times the session's JSON plus (\d+) bytes in the securecookie format, ([\d.]+) times plus (\d+) in the compact one`).FindStringSubmatch(page)
	require.NotNil(t, rule, "the rule for the Cookie header's size")
	for i, impl := range cookieImpls {
		slope, intercept := fitLine(sizes, cookieB(impl))
		assertRounded(t, rule[1+2*i], slope, 0, "%s: bytes of Cookie per byte of JSON", impl)
		assertRounded(t, rule[2+2*i], intercept, 0.05, "%s: Cookie bytes beside the JSON", impl)
	}
	big, mid := len(sizes)-1, slices.Index(res.Plan.Sizes, 3584)
	require.GreaterOrEqual(t, mid, 0)
	says(fmt.Sprintf("is %s bytes of `Cookie` header in the securecookie format (%s compact)", thousands(cookieB(cookieImpls[0])[big]), thousands(cookieB(cookieImpls[1])[big])))
	says(fmt.Sprintf("3.5 KB of session (%s bytes, or %s compact)", thousands(cookieB(cookieImpls[0])[mid]), thousands(cookieB(cookieImpls[1])[mid])))

	// A store's session ID, in the trade-offs and in redisrevocation's
	// README.
	scsCookie := thousands(res.series("scs-memstore", 0, "incr", "rate", func(ph *phase) float64 { return ph.CookieB })[0])
	says("(scs: " + scsCookie + " bytes of `Cookie` header)")
	assert.True(t, strings.Contains(normalised(t, "../../redisrevocation/README.md"), "the session ID (scs: "+scsCookie+" B of `Cookie`)"), "redisrevocation/README.md's scs cookie")

	// CPU per request at the fixed rate.
	cpuAt := func(impl string, route string) []float64 { return res.series(impl, 0, route, "rate", cpu) }
	for _, r := range []struct{ label, impl string }{
		{"cookiesession, read / change", "cookiesession"},
		{"cookiesession compact", "cookiesession-compact"},
		{"scs + in-memory store", "scs-memstore"},
		{"scs + Redis (+0 ms)", "scs-redis"},
		{"scs + PostgreSQL (+0 ms)", "scs-postgres"},
	} {
		read, change := cpuAt(r.impl, "read"), cpuAt(r.impl, "incr")
		row := "| " + r.label + " |"
		for _, size := range []int{64, 2048, 8192} {
			i := slices.Index(res.Plan.Sizes, size)
			row += fmt.Sprintf(" %s / %s µs |", thousands(read[i]), thousands(change[i]))
		}
		says(row)
	}

	// PostgreSQL's latency table: p50 over every size.
	for _, rtt := range []int{1, 5} {
		row := fmt.Sprintf("| %d ms away |", rtt)
		for _, route := range []string{"read", "incr"} {
			p50 := res.series("scs-postgres", rtt, route, "rate", func(ph *phase) float64 { return ph.P50us / 1000 })
			row += fmt.Sprintf(" %.1f–%.1f ms |", slices.Min(p50), slices.Max(p50))
		}
		says(row)
	}

	// Ranges quoted in prose: each pair of figures is the least and the
	// most of a set of figures of the run, as written ("about": within a
	// tenth).
	p50ms := func(impl string, rtt int, routes ...string) []float64 {
		var out []float64
		for _, route := range routes {
			for _, v := range res.series(impl, rtt, route, "rate", func(ph *phase) float64 { return ph.P50us / 1000 }) {
				if !math.IsNaN(v) {
					out = append(out, v)
				}
			}
		}
		return out
	}
	baseline := func(route, mode string, figure func(*phase) float64) []float64 {
		var out []float64
		for i := range res.Rows {
			if r := &res.Rows[i]; r.Impl == "no-session" {
				out = append(out, figure(r.phase(route, mode)))
			}
		}
		return out
	}
	crossBytes := func(route string, mbps float64, st ...storeAt) []float64 {
		var out []float64
		for _, s := range st {
			for _, c := range cross(s, route, mbps) {
				switch c.Kind {
				case "at":
					out = append(out, c.At)
				case "always":
					out = append(out, float64(res.Plan.Sizes[0]))
				default:
					t.Fatalf("%s on %v Mbit/s: the cookie session is faster at every size; the prose quotes no crossover", s, mbps)
				}
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
	cpuCross := func(st storeAt, mode, cookie string, routes ...string) []float64 {
		var out []float64
		for _, route := range routes {
			c := res.cpuCrossing(cookie, st, route, mode)
			require.Equal(t, "at", c.Kind, "CPU, %s, %s, %s %s", cookie, st, route, mode)
			out = append(out, c.At/1024)
		}
		return out
	}
	p1, p5, r0, pg0, mem := at("scs-redis", 1), at("scs-redis", 5), at("scs-redis", 0), at("scs-postgres", 0), at("scs-memstore", 0)
	pg5 := at("scs-postgres", 5)
	both := func(route string, mbps float64, st ...storeAt) []float64 { return crossBytes(route, mbps, st...) }
	joined := func(sets ...[]float64) []float64 { return slices.Concat(sets...) }
	ranges := []struct {
		pattern string
		about   bool
		sets    [][]float64
	}{
		{`a store 1 ms away is faster on a 1 Mbit/s uplink from (\d+) to (\d+) bytes of session, and on 10 Mbit/s from about ([\d.]+) to ([\d.]+) KB for reads and (\d+) to (\d+) KB for changes`, true, [][]float64{
			joined(both("read", 1, p1, at("scs-postgres", 1)), both("incr", 1, p1, at("scs-postgres", 1))),
			kb(both("read", 10, p1, at("scs-postgres", 1))),
			kb(both("incr", 10, p1, at("scs-postgres", 1))),
		}},
		{`cookiesession answers at p50 in ([\d.]+) to ([\d.]+) ms at every size`, false, [][]float64{
			joined(p50ms("cookiesession", 0, "read", "incr"), p50ms("cookiesession-compact", 0, "read", "incr")),
		}},
		{`net/http with no session at all answers in ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			joined(baseline("read", "rate", func(ph *phase) float64 { return ph.P50us / 1000 }), baseline("incr", "rate", func(ph *phase) float64 { return ph.P50us / 1000 })),
		}},
		{`scs with Redis 1 ms away answers a read in ([\d.]+) to ([\d.]+) ms and a change in ([\d.]+) to ([\d.]+) ms; 5 ms away, in ([\d.]+) to ([\d.]+) ms and ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			p50ms("scs-redis", 1, "read"), p50ms("scs-redis", 1, "incr"), p50ms("scs-redis", 5, "read"), p50ms("scs-redis", 5, "incr"),
		}},
		{`scs answers in ([\d.]+) to ([\d.]+) ms, and with its in-memory store \(which no second replica can read\) in ([\d.]+) to ([\d.]+) ms`, false, [][]float64{
			joined(p50ms("scs-redis", 0, "read", "incr"), p50ms("scs-postgres", 0, "read", "incr")), p50ms("scs-memstore", 0, "read", "incr"),
		}},
		{`\(\+0 ms\) wins from about (\d+) to (\d+) B on 10 Mbit/s \(the in-memory store from about (\d+) to (\d+) B\)`, true, [][]float64{
			both("read", 10, r0, pg0), both("read", 10, mem),
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
			joined(sameJarKept(&res, "cookiesession"), sameJarKept(&res, "cookiesession-compact")),
		}},
		{`scs kept (\d+) to (\d+) with Redis and (\d+) to (\d+) with PostgreSQL`, false, [][]float64{
			sameJarKept(&res, "scs-redis"), sameJarKept(&res, "scs-postgres"),
		}},
		{`a store 5 ms away wins from (\d+) to (\d+) bytes, one 1 ms away from (\d+) to (\d+) bytes`, true, [][]float64{
			joined(both("read", 1, p5, pg5), both("incr", 1, p5, pg5)),
			joined(both("read", 1, p1, at("scs-postgres", 1)), both("incr", 1, p1, at("scs-postgres", 1))),
		}},
		{`on 10 Mbit/s a store 1 ms away wins above about ([\d.]+) to ([\d.]+) KB for reads and (\d+) to (\d+) KB for changes, one 5 ms away above about (\d+) to (\d+) KB for reads`, true, [][]float64{
			kb(both("read", 10, p1, at("scs-postgres", 1))), kb(both("incr", 10, p1, at("scs-postgres", 1))), kb(both("read", 10, p5, pg5)),
		}},
	}
	// The README's summary of the page.
	readme := normalised(t, "../../README.md")
	assert.True(t, strings.Contains(readme, "PostgreSQL a millisecond away at every size that travels (up to 3.5 KB) on a 100 Mbit/s uplink"), "README.md's summary")
	for _, st := range []storeAt{p1, at("scs-postgres", 1)} {
		for _, route := range []string{"read", "incr"} {
			for i, c := range cross(st, route, 100) {
				assert.True(t, c.Kind == "never" || c.At > 3584, "README.md: %s is faster than %s on 100 Mbit/s up to 3.5 KB, %s", cookieImpls[i], st, route)
			}
		}
	}
	checkRange := func(page, pattern string, about bool, sets [][]float64) {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(page)
		if !assert.NotNil(t, m, "docs/choosing.md or README.md no longer says %s", pattern) {
			return
		}
		figures := m[1:]
		if len(figures) == len(sets) { // one figure for a set: "about 4 KB"
			figures = slices.Repeat(figures, 2)
			for i := range len(sets) {
				figures[2*i], figures[2*i+1] = m[1+i], m[1+i]
			}
		}
		require.Len(t, figures, 2*len(sets), pattern)
		tolerance := 0.0
		if about {
			tolerance = 0.1
		}
		for i, set := range sets {
			require.NotEmpty(t, set, pattern)
			assertRounded(t, figures[2*i], slices.Min(set), tolerance, "least of %v, in %q", set, m[0])
			assertRounded(t, figures[2*i+1], slices.Max(set), tolerance, "most of %v, in %q", set, m[0])
		}
	}
	for _, r := range ranges {
		checkRange(page, r.pattern, r.about, r.sets)
	}
	checkRange(readme, `while on 1 Mbit/s the store won from (\d+) to (\d+) bytes`, true, [][]float64{
		joined(both("read", 1, p1, at("scs-postgres", 1)), both("incr", 1, p1, at("scs-postgres", 1))),
	})
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
// written, or, with a tolerance, within that share of it.
func assertRounded(t *testing.T, written string, value, tolerance float64, msgAndArgs ...any) {
	t.Helper()
	got, err := strconv.ParseFloat(written, 64)
	require.NoError(t, err)
	decimals := 0
	if _, frac, ok := strings.Cut(written, "."); ok {
		decimals = len(frac)
	}
	step := math.Pow10(-decimals)
	if math.Abs(got-value) <= step/2+1e-9 || math.Abs(got-value) <= tolerance*math.Abs(value) {
		return
	}
	assert.Fail(t, fmt.Sprintf("the page says %s where the run gives %.4g", written, value), msgAndArgs...)
}

// fitLine returns the least-squares line through (xs, ys).
func fitLine(xs, ys []float64) (slope, intercept float64) {
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	n := float64(len(xs))
	slope = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return slope, (sy - slope*sx) / n
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
