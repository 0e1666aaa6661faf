package cookiesession

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The figures the documentation quotes are checked here against the
// results files they come from: the raw output of the commands the pages
// name, committed under benchmarks/results/. A figure edited on a page, or
// a new run committed without the page following, fails. (The end-to-end
// comparison's figures in docs/choosing.md are checked in the benchmarks
// module, which works out its crossovers: TestChoosingQuotesItsRun.)

const results = "benchmarks/results/"

// benchRuns holds a benchmark output's figures: by benchmark (its name
// without the -GOMAXPROCS suffix), by unit, one value per run.
type benchRuns map[string]map[string][]float64

// readBench reads the output of go test -bench.
func readBench(t *testing.T, file string) benchRuns {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(results + file))
	require.NoError(t, err)
	defer f.Close()
	runs := benchRuns{}
	suffix := regexp.MustCompile(`-\d+$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		name := suffix.ReplaceAllString(fields[0], "")
		if runs[name] == nil {
			runs[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			require.NoError(t, err, sc.Text())
			runs[name][fields[i+1]] = append(runs[name][fields[i+1]], v)
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, runs, file)
	return runs
}

// of returns the values of a benchmark's unit, one per run.
func (r benchRuns) of(t *testing.T, name, unit string) []float64 {
	t.Helper()
	vs := r[name][unit]
	require.NotEmpty(t, vs, "no %s for %s", unit, name)
	return vs
}

// median is the median of a benchmark's unit over the runs, as benchstat
// reports it.
func (r benchRuns) median(t *testing.T, name, unit string) float64 {
	t.Helper()
	return median(r.of(t, name, unit))
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loggedValues returns every match of pattern's first group in a results
// file, parsed by parse.
func loggedValues[T any](t *testing.T, file, pattern string, parse func(string) (T, error)) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(results + file))
	require.NoError(t, err)
	var out []T
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(string(b), -1) {
		v, err := parse(m[1])
		require.NoError(t, err, m[0])
		out = append(out, v)
	}
	require.NotEmpty(t, out, "%s: no %s", file, pattern)
	return out
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// page is a documentation file with every run of white space made one
// space, so that a figure is found however its lines wrap.
type page struct {
	path, text string
}

func readPage(t *testing.T, path string) page {
	t.Helper()
	return page{path, strings.Join(strings.Fields(readDoc(t, path)), " ")}
}

// says fails the test unless the page says want.
func (p page) says(t *testing.T, want string) {
	t.Helper()
	assert.True(t, strings.Contains(p.text, want), "%s does not say %q", p.path, want)
}

// names fails the test unless the page links or names a results file.
func (p page) names(t *testing.T, file string) {
	t.Helper()
	assert.True(t, strings.Contains(p.text, "results/"+file), "%s does not name its results file %s", p.path, file)
}

// thousands writes a whole number with commas between thousands.
func thousands(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// micros writes nanoseconds as microseconds, one decimal: 17.6 µs.
func micros(ns float64) string { return fmt.Sprintf("%.1f µs", ns/1e3) }

// millis writes nanoseconds as milliseconds: two decimals below 1 ms,
// one above.
func millis(ns float64) string {
	if ns < 1e6 {
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f ms", ns/1e6)
}

// kib writes bytes in KiB: one decimal below 10 KiB.
func kib(b float64) string {
	if b < 10*1024 {
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.0f KiB", b/1024)
}

// spread writes the least and the most of xs with format, joined by an
// en dash: 0.9–1.0 ms.
func spread(format string, xs []float64) string {
	lo, hi := fmt.Sprintf(format, slices.Min(xs)), fmt.Sprintf(format, slices.Max(xs))
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

// TestSecurityQuotesItsRuns: SECURITY.md's table of hostile headers.
func TestSecurityQuotesItsRuns(t *testing.T) {
	const file = "hostile-2026-12-07.txt"
	p := readPage(t, "SECURITY.md")
	p.names(t, file)
	runs := readBench(t, file)
	for _, row := range []struct{ label, bench string }{
		{"1 MiB of unrelated cookies (the reference)", "unrelated"},
		{"1 MiB of `session=y` repeated", "repeated-head"},
		{"1 MiB of `session.1=y` repeated", "repeated-chunk"},
		{"1 MiB of `session.99=y` repeated (not ours)", "out-of-range-chunks"},
		{"1 MiB of `session.15=y` repeated (leftovers)", "leftover-chunks"},
		{"1 MiB of `session=<random>` repeated, all different", "distinct-heads"},
		{"one chunk name of a million digits", "huge-foreign-chunk-name"},
		{"a forged 16-chunk session (63 KiB)", "forged-16-chunks-4-keys"},
		{"70 KiB of unrelated cookies (the reference)", "unrelated-70KB"},
		{"the forged session with 3 values of its last chunk: 3 joins", "forged-16-chunks-3-joins-4-keys"},
		{"75 KiB of unrelated cookies (the reference)", "unrelated-80KB"},
		{"the forged session with 2 values of each of its last 3 chunks: 8 joins", "forged-16-chunks-8-joins-4-keys"},
	} {
		name := "BenchmarkHostileHeader/" + row.bench
		p.says(t, fmt.Sprintf("| %s | %s | %.0f | %s |", row.label,
			millis(runs.median(t, name, "ns/op")), runs.median(t, name, "allocs/op"), kib(runs.median(t, name, "B/op"))))
	}
	forged := runs.median(t, "BenchmarkHostileHeader/forged-16-chunks-4-keys", "header-B")
	assert.Equal(t, "63", fmt.Sprintf("%.0f", forged/1024), "the forged session's size in the row's label")
}

// TestRevocationQuotesItsRuns: the figures of the revocation list, in
// redisrevocation/README.md and docs/revocation.md.
func TestRevocationQuotesItsRuns(t *testing.T) {
	readme, doc := readPage(t, "redisrevocation/README.md"), readPage(t, "docs/revocation.md")
	const (
		coldStart   = "coldstart-2026-12-07.txt"
		redisMemory = "redis-memory-2026-12-07.txt"
		cycle       = "revocation-2026-12-07.txt"
		logs        = "propagation-2026-12-07.txt"
		memory      = "memlist-2026-12-07.txt"
		failover    = "failover-2026-12-07.txt"
	)
	for _, f := range []string{coldStart, redisMemory, cycle, logs, failover} {
		readme.names(t, f)
	}

	// Starting, and the bytes each entry takes.
	cold := readBench(t, coldStart)
	loads := slices.Concat(cold.of(t, "BenchmarkColdStart/1M-spread", "ns/op"), cold.of(t, "BenchmarkColdStart/1M-incident", "ns/op"))
	for i := range loads {
		loads[i] /= 1e9
	}
	loadSpread := spread("%.2f", loads) + " s"
	readme.says(t, "| a replica starting on 1,000,000 revoked sessions (`New` until loaded) | "+loadSpread+" |")
	doc.says(t, "A replica loads a million in "+loadSpread)
	empty := cold.of(t, "BenchmarkColdStart/empty-beside-1M-keys", "ns/op")
	for i := range empty {
		empty[i] /= 1e6
	}
	readme.says(t, "| a replica whose list is empty, beside 1,000,000 unrelated keys | "+spread("%.1f", empty)+" ms |")
	heap := fmt.Sprintf("%.0f", cold.median(t, "BenchmarkColdStart/1M-spread", "heap-B/entry"))
	readme.says(t, "| memory per revoked session in each replica, loaded (`heap-B/entry`) | "+heap+" bytes |")
	atOnce := fmt.Sprintf("%.0f", cold.median(t, "BenchmarkColdStart/1M-incident", "redis-B/entry"))
	overAYear := fmt.Sprintf("%.0f", cold.median(t, "BenchmarkColdStart/1M-spread", "redis-B/entry"))
	readme.says(t, fmt.Sprintf("| memory per revoked session in Redis, at 1,000,000 (`redis-B/entry`): made at once, or over a year | %s bytes, %s bytes |", atOnce, overAYear))
	perEntry := func(spread bool) string {
		vs := loggedValues(t, redisMemory, fmt.Sprintf(`(?m)^=== RUN\s+TestRedisMemoryPerEntry/spread=%v\n.*: ([\d.]+) bytes each in Redis`, spread), parseFloat)
		return fmt.Sprintf("%.0f", median(vs))
	}
	atOnce100k, overAYear100k := perEntry(false), perEntry(true)
	readme.says(t, fmt.Sprintf("| the same at 100,000 (`TestRedisMemoryPerEntry`, which asserts ≤ 64) | %s bytes, %s bytes |", atOnce100k, overAYear100k))
	growing := fmt.Sprintf("%.0f", readBench(t, memory).median(t, "BenchmarkRevocationList", "heap-B/entry"))
	readme.says(t, "takes about "+growing+" bytes per entry (`BenchmarkRevocationList` in the root package, ")
	readme.names(t, memory)
	require.Equal(t, overAYear, overAYear100k, "spread over a year, an entry takes the same at 100,000 and at 1,000,000")
	a, _ := strconv.Atoi(atOnce)
	b, _ := strconv.Atoi(atOnce100k)
	lo, hi := strconv.Itoa(min(a, b)), strconv.Itoa(max(a, b))
	doc.says(t, fmt.Sprintf("Plan for %s–%s bytes each in every replica's memory and about %s in Redis (%s to %s when they were made all at once", heap, growing, overAYear, lo, hi))
	doc.says(t, fmt.Sprintf("a million logouts are %s–%s MB in each replica and about %s MB in Redis", heap, growing, overAYear))
	readme.says(t, fmt.Sprintf("| server memory | ~%s–%s B per revoked session per replica, %s–%s B in Redis |", heap, growing, lo, hi))
	readme.says(t, fmt.Sprintf("carries the whole list (%s–%s MB per million entries)", lo, hi))

	// The check, and a request with the list on.
	runs := readBench(t, cycle)
	checks := runs.of(t, "BenchmarkRevoked", "ns/op")
	readme.says(t, fmt.Sprintf("| the `Revoked` check (`BenchmarkRevoked`; no allocation, no round trip) | %.0f ns (median; runs %s ns) |", median(checks), spread("%.0f", checks)))
	require.Zero(t, slices.Max(runs.of(t, "BenchmarkRevoked", "allocs/op")), "the check allocates nothing")
	allocs := runs.of(t, "BenchmarkCycle/no-list", "allocs/op")
	require.Equal(t, allocs, runs.of(t, "BenchmarkCycle/redis-list", "allocs/op"), "the list adds no allocation")
	ratio := runs.of(t, "BenchmarkCycleRatio", "ratio")
	cost := fmt.Sprintf("took %.2f× the time of the same cycle without it (median of %d runs, %s), with the same %.0f allocations",
		median(ratio), len(ratio), spread("%.2f", ratio), allocs[0])
	readme.says(t, cost)
	perf := readPage(t, "docs/performance.md")
	perf.names(t, cycle)
	perf.says(t, cost)
	perf.says(t, fmt.Sprintf("the check itself takes %.0f ns (median of %d runs) and allocates nothing",
		runs.median(t, "BenchmarkRevoked", "ns/op"), len(runs.of(t, "BenchmarkRevoked", "ns/op"))))

	// Sharing.
	duration := func(s string) (float64, error) {
		d, err := time.ParseDuration(s)
		return d.Seconds(), err
	}
	p50 := loggedValues(t, logs, `(?m)^\s+list_test.go:\d+: revoke on one replica -> enforced on another, 400 samples: p50 (\S+),`, duration)
	p99 := loggedValues(t, logs, `(?m)^\s+list_test.go:\d+: revoke on one replica -> enforced on another, 400 samples: p50 \S+, p99 (\S+),`, duration)
	ms := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x * 1e3
		}
		return out
	}
	readme.says(t, fmt.Sprintf("| revoke on one replica, enforced on another (`TestPropagation`, 3 replicas, 400 samples) | p50 %s ms, p99 %s ms |",
		spread("%.1f", ms(p50)), spread("%.1f", ms(p99))))
	clusterP50 := loggedValues(t, failover, `(?m)^\s+cluster_test.go:\d+: revoke on one replica -> enforced on another, 120 samples: p50 (\S+),`, duration)
	clusterP99 := loggedValues(t, failover, `(?m)^\s+cluster_test.go:\d+: revoke on one replica -> enforced on another, 120 samples: p50 \S+, p99 (\S+),`, duration)
	readme.says(t, fmt.Sprintf("| the same on a Redis Cluster with `WaitReplicas: 1` (`TestCluster`, 120 samples) | p50 %s ms, p99 %s ms |",
		spread("%.1f", ms(clusterP50)), spread("%.1f", ms(clusterP99))))
	readme.says(t, fmt.Sprintf("on every replica after %s ms at p99 on one Redis, %s ms on a Cluster with `WaitReplicas: 1` (the runs above, on a busy machine)",
		spread("%.1f", ms(p99)), spread("%.1f", ms(clusterP99))))
	tookOver := loggedValues(t, failover, `a replica took over (\S+) after the kill`, duration)
	onEveryList := loggedValues(t, failover, `every revocation made during the failover was on every list (\S+) later`, duration)
	sentinel := loggedValues(t, failover, `every revocation on both lists (\S+) after the kill`, duration)
	readme.says(t, fmt.Sprintf("on a Cluster a replica took over %s s after the kill and every revocation was on every replica of the service %s s after that; under Sentinel, every revocation was on both replicas %s s after the kill",
		spread("%.1f", tookOver), spread("%.1f", onEveryList), spread("%.1f", sentinel)))

	many := loggedValues(t, logs, `50000 revocations: RevokeMany took (\S+);`, duration)
	readme.says(t, "| `RevokeMany` of 50,000 sessions (`TestRevokeMany`) | "+spread("%.2f", many)+" s |")
	readme.says(t, "50,000 sessions in "+spread("%.2f", many)+" s in the runs above")
}

// TestPerformanceQuotesItsRuns: docs/performance.md's tables, and the
// ratios its prose draws from them.
func TestPerformanceQuotesItsRuns(t *testing.T) {
	const (
		cycleFile     = "cycle-2026-12-07.txt"
		untouchedFile = "untouched-2026-12-07.txt"
		roundTripFile = "roundtrip-2026-12-07.txt"
	)
	p := readPage(t, "docs/performance.md")
	for _, f := range []string{cycleFile, untouchedFile, roundTripFile} {
		p.names(t, f)
	}

	// The cycle of each implementation, and the load it ran under.
	cycle := readBench(t, cycleFile)
	loadAt := func(when string) float64 {
		return loggedValues(t, cycleFile, `(?m)^# load average at `+when+`: ([\d.]+) `, parseFloat)[0]
	}
	p.says(t, fmt.Sprintf("(a load average of %.0f to %.0f)", loadAt("start"), loadAt("end")))
	typical := func(impl, unit string) float64 { return cycle.median(t, "BenchmarkCycle/"+impl+"/typical", unit) }
	large := func(impl, unit string) float64 { return cycle.median(t, "BenchmarkCycle/"+impl+"/large", unit) }
	for _, row := range []struct{ label, impl, chunks string }{
		{"cookiesession, securecookie format", "cookiesession", " (2 chunks)"},
		{"cookiesession, sign-only", "cookiesession-signonly", " (2 chunks)"},
		{"cookiesession, compact (the default)", "cookiesession-compact", ""},
		{"gorilla/sessions CookieStore", "gorilla-cookiestore", ""},
		{"scs + in-memory store", "scs-memstore", ""},
		{"scs + Redis (loopback)", "scs-redisstore", ""},
		{"floor: encoding/json + AES-GCM + base64, no HTTP", "floor", ""},
	} {
		p.says(t, fmt.Sprintf("| %s | %s | %.0f | %s | %s%s |", row.label, micros(typical(row.impl, "ns/op")),
			typical(row.impl, "allocs/op"), thousands(typical(row.impl, "wire-B/op")), thousands(large(row.impl, "wire-B/op")), row.chunks))
	}
	untouched := readBench(t, untouchedFile)
	rt := readBench(t, roundTripFile)
	const u = "BenchmarkCycle/cookiesession/untouched"
	p.says(t, fmt.Sprintf("| cookiesession, handler never touches the session | %s | %.0f | %s (nothing sent) | |",
		micros(untouched.median(t, u, "ns/op")), untouched.median(t, u, "allocs/op"), thousands(untouched.median(t, u, "wire-B/op"))))
	p.says(t, fmt.Sprintf("The untouched request (the handler never reads the session) took %s and %.0f allocations",
		micros(untouched.median(t, u, "ns/op")), untouched.median(t, u, "allocs/op")))
	// What the typical session costs on the wire, in docs/choosing.md and
	// redisrevocation/README.md, to the nearest 5 bytes.
	about := func(b float64) string { return thousands(5 * math.Round(b/5)) }
	cookie := untouched.median(t, u, "wire-B/op") // the Cookie header alone: nothing is sent
	compactCookie := typical("cookiesession-compact", "wire-B/op") - rt.median(t, "BenchmarkRoundTrip/compact", "cookie-B")
	choosing := readPage(t, "docs/choosing.md")
	for _, f := range []string{cycleFile, untouchedFile, roundTripFile} {
		choosing.names(t, f)
	}
	choosing.says(t, fmt.Sprintf("costs about %s bytes of `Cookie` header in the securecookie format (about %s in compact) on every request, images and API calls included, and %s bytes of `Set-Cookie` when it changes",
		about(cookie), about(compactCookie), about(rt.median(t, "BenchmarkRoundTrip/securecookie", "cookie-B"))))
	readPage(t, "redisrevocation/README.md").says(t, "| bytes per request | the session: ~"+about(cookie)+" B of `Cookie` for the typical session |")
	// What counting costs a request, in docs/operations.md.
	const countingFile = "counting-2026-12-07.txt"
	ops := readPage(t, "docs/operations.md")
	ops.names(t, countingFile)
	counting := readBench(t, countingFile)
	require.Zero(t, slices.Max(counting.of(t, "BenchmarkCounting", "allocs/op")), "counting allocates nothing")
	ops.says(t, fmt.Sprintf("(`BenchmarkCounting`: %.0f ns, the median of %d runs on a quiet machine, and no allocation per request, against %.1f–%.1f µs for the whole request in the [Performance](performance.md) table's run",
		counting.median(t, "BenchmarkCounting", "ns/op"), len(counting.of(t, "BenchmarkCounting", "ns/op")),
		typical("cookiesession-compact", "ns/op")/1e3, typical("cookiesession", "ns/op")/1e3))
	times := func(slow, fast string) string {
		return fmt.Sprintf("%.1f×", typical(slow, "ns/op")/typical(fast, "ns/op"))
	}
	p.says(t, fmt.Sprintf("gorilla/sessions' CookieStore took %s the securecookie format's time, with ten times its allocations; scs took %s with its in-memory store and %s with Redis on loopback; the securecookie format took %s the compact format's, and the naive standard-library floor %s",
		times("gorilla-cookiestore", "cookiesession"), times("scs-memstore", "cookiesession"), times("scs-redisstore", "cookiesession"),
		times("cookiesession", "cookiesession-compact"), times("floor", "cookiesession-compact")))
	assert.Less(t, 10*typical("cookiesession", "allocs/op"), typical("gorilla-cookiestore", "allocs/op")*1.1, "a tenth of gorilla's allocations, about")
	assert.Greater(t, 10*typical("cookiesession", "allocs/op"), typical("gorilla-cookiestore", "allocs/op")*0.9, "a tenth of gorilla's allocations, about")

	// Round trips against their floors.
	for _, row := range []struct{ label, format, floor, floorLabel string }{
		{"compact", "compact", "aead", "XChaCha20-Poly1305, base64url once"},
		{"securecookie", "securecookie", "securecookie", "AES-CTR, HMAC-SHA256, base64 twice"},
	} {
		ratio := rt.of(t, "BenchmarkFloorRatio/"+row.format, "ratio")
		p.says(t, fmt.Sprintf("| %s | %s | %.0f | %s (%s) | %.0f | %.2f× (%s×) |", row.label,
			micros(rt.median(t, "BenchmarkFloorRatio/"+row.format, "roundtrip-ns/op")), rt.median(t, "BenchmarkRoundTrip/"+row.format, "allocs/op"),
			micros(rt.median(t, "BenchmarkFloorRatio/"+row.format, "floor-ns/op")), row.floorLabel, rt.median(t, "BenchmarkFloor/"+row.floor, "allocs/op"),
			median(ratio), spread("%.2f", ratio)))
	}

	// Real net/http servers.
	const nh = "BenchmarkNetHTTP"
	overhead := func(variant string) string {
		vs := rt.of(t, nh, variant+"-overhead-%")
		return fmt.Sprintf("%.1f%% (%.1f%% to %.1f%%)", median(vs), slices.Min(vs), slices.Max(vs))
	}
	p.says(t, fmt.Sprintf("| bare handler | %s | | %s |", micros(rt.median(t, nh, "bare-server-ns/req")), micros(rt.median(t, nh, "bare-handler-ns/req"))))
	for _, row := range []struct{ label, variant string }{
		{"bare handler setting `Vary`, `Set-Cookie` and `Cache-Control` itself", "headers"},
		{"compact", "compact"},
		{"securecookie", "securecookie"},
	} {
		p.says(t, fmt.Sprintf("| %s | %s | %s | %s |", row.label, micros(rt.median(t, nh, row.variant+"-server-ns/req")),
			overhead(row.variant), micros(rt.median(t, nh, row.variant+"-handler-ns/req"))))
	}
	p.says(t, fmt.Sprintf("the compact session added a median %.1f%% to a bare net/http request, the securecookie format %.1f%%",
		rt.median(t, nh, "compact-overhead-%"), rt.median(t, nh, "securecookie-overhead-%")))
	p.says(t, fmt.Sprintf("(the second server sets them without a session: %.1f%% in this run)", rt.median(t, nh, "headers-overhead-%")))
}
