package cookiesession

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCounts: each read and each save a request makes is counted once,
// under its outcome.
func TestCounts(t *testing.T) {
	list := NewMemoryRevocations()
	m, clk := newTestManager(t, Options{Secrets: [][]byte{testKey(2), testKey(1)}, MaxChunks: 3, Revocations: list, RefusalSummary: -1})
	list.now = clk.Now
	old, _ := newTestManager(t, Options{})
	old.now = clk.Now

	byOld := issue(t, old, func(s *Session) { s.Set("n", 1) })
	byOld.visit(m, touch) // verified by the second secret, re-issued with the first
	byOld.visit(m, touch) // now the first; nothing sent
	serve(m, "", touch)   // no cookie, nothing stored: nothing sent
	serve(m, "", noop)    // the session is never used: not counted
	big := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	require.Len(t, big, 3)
	serve(m, "session="+big["session"].Value+"; session.1="+big["session.1"].Value, touch) // a chunk missing
	serve(m, "session=~AAAA", touch)                                                       // not a value we write
	serve(m, "session="+strings.Repeat("A", 40), touch)                                    // verified by no secret
	a, b := issue(t, m, func(s *Session) { s.Set("u", "a") }), issue(t, m, func(s *Session) { s.Set("u", "b") })
	serve(m, a.header()+"; "+b.header(), touch) // two valid sessions
	revoked := issue(t, m, func(s *Session) { s.Set("u", "r") })
	revokedCopy := revoked.header()
	revoked.visit(m, func(_ http.ResponseWriter, s *Session) { require.NoError(t, m.RevokeSession(context.Background(), s)) })
	serve(m, revokedCopy, touch)
	expiring := issue(t, m, func(s *Session) { s.Set("u", "e") })
	clk.Add(25 * time.Hour)
	serve(m, expiring.header(), touch)
	serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("blob", randomText(20000)) }) // too large
	serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("f", func() {}) })            // cannot be stored

	c := m.Counts()
	require.Len(t, c.Secrets, 2)
	assert.Equal(t, SecretFingerprint(testKey(2)), c.Secrets[0].Fingerprint)
	assert.Equal(t, SecretFingerprint(testKey(1)), c.Secrets[1].Fingerprint)
	assert.Equal(t, uint64(2), c.Secrets[0].Verified, "the re-issued cookie, the revoked one")
	assert.Equal(t, uint64(1), c.Secrets[1].Verified, "the old secret's cookie")
	assert.False(t, c.Secrets[1].LastVerified.IsZero())
	assert.Equal(t, uint64(0), c.Migrated)
	assert.Equal(t, uint64(8), c.NoCookie, "issue() and serve() without a cookie")
	assert.Equal(t, uint64(1), c.Refused[RefusedChunkMissing])
	assert.Equal(t, uint64(1), c.Refused[RefusedMalformed])
	assert.Equal(t, uint64(1), c.Refused[RefusedNotVerified])
	assert.Equal(t, uint64(1), c.Refused[RefusedTooManyCandidates])
	assert.Equal(t, uint64(1), c.Refused[RefusedExpired])
	assert.Equal(t, uint64(1), c.Refused[RefusedRevoked])
	assert.Len(t, c.Refused, int(numRefusals), "every reason, counted or not")
	assert.Equal(t, uint64(1), c.TooLarge)
	assert.Equal(t, uint64(1), c.Failed)
	assert.Equal(t, uint64(6), c.Written, "five sessions issued, and the re-issue with the first secret")
	assert.Equal(t, uint64(7), c.Deleted, "the six refused cookies cleared, and the logout")
	assert.Equal(t, uint64(2), c.Unchanged)
	total := func(bs []Bucket) (n uint64) {
		for _, b := range bs {
			n += b.Count
		}
		return n
	}
	assert.Equal(t, c.Written, total(c.CookieLine), "one observation per save that wrote")
	assert.Equal(t, uint64(1), c.CookieLine[len(c.CookieLine)-2].Count, "the chunked session's lines are near 4096")
	assert.Equal(t, -1, c.CookieLine[len(c.CookieLine)-1].Le)
}

// TestSizeSums: beside the buckets, the Manager sums the sizes it counts,
// so that an exporter gives a histogram's _sum: the largest Set-Cookie
// line of each save that wrote, and the session's share of each Cookie
// header ("name=value; " per cookie).
func TestSizeSums(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 3, RefusalSummary: -1})
	assert.Equal(t, "session", m.Name())
	wantLine, wantHeader := 0, 0
	for _, n := range []int{10, 900, 3000, 6000} {
		resp := serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("v", randomText(n)) })
		largest, header := 0, ""
		for _, line := range resp.Header.Values("Set-Cookie") {
			largest = max(largest, len(line))
			header += strings.SplitN(line, ";", 2)[0] + "; "
		}
		wantLine += largest
		wantHeader += len(header)
		serve(m, strings.TrimSuffix(header, "; "), touch)
	}
	c := m.Counts()
	assert.Equal(t, uint64(wantLine), c.CookieLineSum)
	assert.Equal(t, uint64(wantHeader), c.CookieHeaderSum)
	named, _ := newTestManager(t, Options{Name: "__Host-id"})
	assert.Equal(t, "__Host-id", named.Name())
}

// summaryLog returns a Manager on a clock whose warnings go to a buffer,
// summed up every few milliseconds, and a function that waits for the
// next summary and returns it.
func summaryLog(t *testing.T, opts Options) (*Manager, *clock, func() string) {
	var logs syncBuffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.RefusalSummary = cmp.Or(opts.RefusalSummary, 250*time.Millisecond)
	m, clk := newTestManager(t, opts)
	m.secrets.Load().changed = clk.Now()
	seen := 0
	next := func() string {
		t.Helper()
		var lines []string
		require.Eventually(t, func() bool {
			lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
			return len(lines) > seen && lines[0] != ""
		}, 5*time.Second, time.Millisecond, "a summary")
		seen++
		return lines[seen-1]
	}
	return m, clk, next
}

// TestRefusalSummary: refused cookies reach the default log level as one
// warning per period with the counts by reason, and a hint where the
// counts show a cause; never a cookie's content. Junk alone suggests no
// removed secret, however much of it arrives.
func TestRefusalSummary(t *testing.T) {
	a, b := testKey(1), testKey(2)
	m, _, next := summaryLog(t, Options{Secrets: [][]byte{a}, MaxChunks: 3})
	other, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(7)}})
	foreign := issue(t, other, func(s *Session) { s.Set("u", "x") }).header()
	sealedByA := issue(t, m, func(s *Session) { s.Set("u", "a") }).header()
	for range 12 {
		serve(m, foreign, touch)
	}
	line := next()
	assert.Contains(t, line, "level=WARN")
	assert.Contains(t, line, "not_verified=12")
	assert.NotContains(t, line, "hint=", "foreign cookies suggest nothing")
	assert.NotContains(t, line, strings.TrimPrefix(foreign, "session=")[:20])

	// A removed secret: only the cookies it sealed count towards the
	// hint, not the junk that arrives beside them.
	require.NoError(t, m.ReplaceSecrets([][]byte{b}))
	for range 12 {
		serve(m, foreign, touch)
		serve(m, "session="+strings.Repeat("A", 60), touch)
	}
	line = next()
	assert.Contains(t, line, "not_verified=24")
	assert.NotContains(t, line, "removed", "junk after a change suggests no removed secret")
	serve(m, sealedByA, touch)
	big := issue(t, m, func(s *Session) { s.Set("blob", randomText(5000)) })
	serve(m, "session="+big["session"].Value, touch)
	line = next()
	assert.Contains(t, line, "not_verified=1 ")
	assert.Contains(t, line, "chunk_missing=1")
	assert.Contains(t, line, "1 were sealed with a secret removed at the last change of secrets while its cookies were still live")
	assert.Contains(t, line, "a proxy or client drops cookies")

	off, _, _ := summaryLog(t, Options{RefusalSummary: -1})
	var offLogs bytes.Buffer
	off.logger = slog.New(slog.NewTextHandler(&offLogs, nil))
	serve(off, foreign, touch)
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, offLogs.String())
	assert.Equal(t, uint64(1), off.Counts().Refused[RefusedNotVerified], "counted all the same")
}

// TestRefusalSummaryAfterABurst: a burst of refusals that stops is summed
// up about one period after its first refusal, whatever follows (here:
// valid requests, then nothing), in one warning that accounts for all of
// it. Only the public API.
func TestRefusalSummaryAfterABurst(t *testing.T) {
	const period = 500 * time.Millisecond
	var logs syncBuffer
	m, err := New(Options{Secrets: [][]byte{testKey(1)}, RefusalSummary: period, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	other, err := New(Options{Secrets: [][]byte{testKey(7)}})
	require.NoError(t, err)
	s := other.LoadHeader()
	s.Set("u", "x")
	lines, err := other.SaveHeader(s)
	require.NoError(t, err)
	foreign, _, _ := strings.Cut(lines[0], ";")
	s = m.LoadHeader()
	s.Set("u", "ok")
	lines, err = m.SaveHeader(s)
	require.NoError(t, err)
	valid, _, _ := strings.Cut(lines[0], ";")

	start := time.Now()
	for range 1000 {
		require.True(t, m.LoadHeader(foreign).IsNew())
	}
	for range 3 {
		require.False(t, m.LoadHeader(valid).IsNew())
	}
	warnings := func() []string {
		var w []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") {
				w = append(w, l)
			}
		}
		return w
	}
	require.Eventually(t, func() bool { return len(warnings()) > 0 }, 5*time.Second, time.Millisecond)
	took := time.Since(start)
	time.Sleep(2 * period) // silence: nothing more to sum up
	w := warnings()
	require.Len(t, w, 1, "one warning: %s", logs.String())
	assert.Contains(t, w[0], "1000 session cookies refused")
	assert.Contains(t, w[0], "not_verified=1000")
	assert.Contains(t, w[0], "accepted=3")
	t.Logf("summed up %s after the burst began (period %s)", took.Round(time.Millisecond), period)
	assert.GreaterOrEqual(t, took, period, "not before the period is over")
	assert.Less(t, took, 4*period, "about one period after the first refusal (a generous bound)")

	// The next refusal starts a new period.
	require.True(t, m.LoadHeader(foreign).IsNew())
	require.Eventually(t, func() bool { return len(warnings()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Contains(t, warnings()[1], "not_verified=1 ")
}

// TestReplaceSecrets: new secrets take effect at once, are checked as New
// checks them (the old stay when refused), and each secret's counts carry
// over; SafeToRemove tells when the old one can go.
func TestReplaceSecrets(t *testing.T) {
	a, b := testKey(1), testKey(2)
	m, clk := newTestManager(t, Options{Secrets: [][]byte{a}, MaxAge: 30 * 24 * time.Hour, RefusalSummary: -1})
	m.secrets.Load().since = clk.Now()
	user := issue(t, m, func(s *Session) { s.Set("n", 1) })
	user.visit(m, touch)

	assert.ErrorIs(t, m.ReplaceSecrets([][]byte{[]byte("short"), a}), ErrWeakSecret)
	assert.ErrorIs(t, m.ReplaceSecrets(nil), ErrWeakSecret)
	assert.Equal(t, SecretFingerprint(a), m.Counts().Secrets[0].Fingerprint, "refused: the old secrets stay")

	clk.Add(time.Hour)
	require.NoError(t, m.ReplaceSecrets([][]byte{b, a})) // add and promote at once
	c := m.Counts()
	require.Len(t, c.Secrets, 2)
	assert.Equal(t, uint64(1), c.Secrets[1].Verified, "a's count carried over")
	assert.Equal(t, clk.Now(), c.SigningSince, "b began sealing now")
	ok, why := m.SafeToRemove(1, 24*time.Hour)
	assert.False(t, ok, why)

	assert.Zero(t, m.Counts().Secrets[1].Recent, "a's one verification was an hour ago")
	resp := user.visit(m, touch) // verified by a, re-issued with b
	assert.Equal(t, []string{"session"}, written(resp))
	only, _ := newTestManager(t, Options{Secrets: [][]byte{b}})
	only.now = clk.Now
	_, err := only.Inspect(user.header())
	assert.NoError(t, err, "the re-issued cookie is sealed with b")

	assert.Equal(t, uint64(1), m.Counts().Secrets[1].Recent, "and one now")
	user.visit(m, touch)
	assert.Equal(t, uint64(1), m.Counts().Secrets[0].Recent, "b, since")
	clk.Add(23 * time.Hour)
	assert.Zero(t, m.Counts().Secrets[1].Recent, "nothing in the last hour")
	assert.Equal(t, uint64(2), m.Counts().Secrets[1].Verified)
	ok, why = m.SafeToRemove(1, 24*time.Hour)
	assert.False(t, ok, "a verified a cookie 23 hours ago: %s", why)
	clk.Add(time.Hour + time.Second)
	ok, why = m.SafeToRemove(1, 24*time.Hour)
	assert.True(t, ok, why)
	assert.Contains(t, why, "verified no cookie for 24h0m1s")
	ok, _ = m.SafeToRemove(0, time.Second)
	assert.False(t, ok, "the first secret seals")

	require.NoError(t, m.ReplaceSecrets([][]byte{b}))
	assert.Equal(t, c.SigningSince, m.Counts().SigningSince, "b was first already")
	_, err = m.Inspect(user.header())
	assert.NoError(t, err)
}

// TestSafeToRemoveCountsFromWhenASecretJoined: a secret added while the
// first has long been sealing may have sealed cookies elsewhere; it is not
// safe to remove until it has been quiet for the whole period here. A
// secret given twice is refused.
func TestSafeToRemoveCountsFromWhenASecretJoined(t *testing.T) {
	a, c := testKey(1), testKey(3)
	m, clk := newTestManager(t, Options{Secrets: [][]byte{a}, RefusalSummary: -1})
	m.secrets.Load().since = clk.Now()
	issue(t, m, func(s *Session) { s.Set("n", 1) }).visit(m, touch) // a verifies a cookie
	clk.Add(48 * time.Hour)
	require.NoError(t, m.ReplaceSecrets([][]byte{a, c}))
	ok, why := m.SafeToRemove(1, 24*time.Hour)
	assert.False(t, ok, why)
	clk.Add(24 * time.Hour)
	ok, why = m.SafeToRemove(1, 24*time.Hour)
	assert.True(t, ok, why)

	assert.ErrorContains(t, m.ReplaceSecrets([][]byte{a, c, c}), "secret 2 repeats secret 1")
	_, err := New(Options{Secrets: [][]byte{a, a}})
	assert.ErrorContains(t, err, "secret 1 repeats secret 0")
}

// TestSafeToRemoveOnAReplicaThatSawNoCookie: a process whose secrets
// verified no cookie at all has nothing to judge by and says so, however
// long it has waited, rather than "safe"; once its first secret verifies
// one, the quiet period counts as before. The 400-day rule holds whatever
// it saw.
func TestSafeToRemoveOnAReplicaThatSawNoCookie(t *testing.T) {
	a, b := testKey(1), testKey(2)
	m, clk := newTestManager(t, Options{Secrets: [][]byte{b, a}, RefusalSummary: -1})
	m.secrets.Load().since = clk.Now()
	serve(m, "", touch)                                 // a request without a cookie
	serve(m, "session="+strings.Repeat("A", 40), touch) // one refused
	clk.Add(30 * 24 * time.Hour)
	ok, why := m.SafeToRemove(1, 24*time.Hour)
	assert.False(t, ok, "nothing verified, nothing to judge by: %s", why)
	assert.Contains(t, why, "verified no cookie with any secret (1 requests came without one, 1 cookies were refused)")
	assert.Contains(t, why, "ask a replica that serves sessions")

	issue(t, m, func(s *Session) { s.Set("n", 1) }).visit(m, touch) // b verifies one
	ok, why = m.SafeToRemove(1, 24*time.Hour)
	assert.True(t, ok, why)
	assert.Contains(t, why, "verified no cookie for 720h0m0s")

	idle, clk2 := newTestManager(t, Options{Secrets: [][]byte{b, a}, RefusalSummary: -1})
	idle.secrets.Load().since = clk2.Now()
	clk2.Add(maxCookieLifetime)
	ok, why = idle.SafeToRemove(1, 24*time.Hour)
	assert.True(t, ok, "no cookie lives 400 days, seen or not: %s", why)
}

// TestRemovedSecretsKeepTheirCounts: a secret taken out of force keeps
// its counts in Counts.Removed, and one put back continues them, so a
// series exported per fingerprint never drops within a process.
func TestRemovedSecretsKeepTheirCounts(t *testing.T) {
	a, b := testKey(1), testKey(2)
	m, _ := newTestManager(t, Options{Secrets: [][]byte{a}, RefusalSummary: -1})
	user := issue(t, m, func(s *Session) { s.Set("n", 1) })
	user.visit(m, touch)
	user.visit(m, touch)
	require.Equal(t, uint64(2), m.Counts().Secrets[0].Verified)

	require.NoError(t, m.ReplaceSecrets([][]byte{b}))
	c := m.Counts()
	require.Len(t, c.Removed, 1)
	assert.Equal(t, SecretFingerprint(a), c.Removed[0].Fingerprint)
	assert.Equal(t, uint64(2), c.Removed[0].Verified, "a's final count stays")
	assert.Equal(t, SecretFingerprint(b), c.Secrets[0].Fingerprint)

	require.NoError(t, m.ReplaceSecrets([][]byte{b, a})) // a put back
	c = m.Counts()
	assert.Empty(t, c.Removed)
	assert.Equal(t, uint64(2), c.Secrets[1].Verified, "a continues, never back to zero")
	user.visit(m, touch)
	assert.Equal(t, uint64(3), m.Counts().Secrets[1].Verified)
	ok, why := m.SafeToRemove(1, time.Hour)
	assert.False(t, ok, "a verified a cookie just now: %s", why)

	for i := range maxRetired + 5 { // many rotations: the list stays bounded
		require.NoError(t, m.ReplaceSecrets([][]byte{testKey(10 + i)}))
	}
	assert.Len(t, m.Counts().Removed, maxRetired)
}

// TestSecretFingerprint: short, stable, and not the secret.
func TestSecretFingerprint(t *testing.T) {
	fp := SecretFingerprint(testKey(1))
	assert.Len(t, fp, 8)
	assert.Equal(t, fp, SecretFingerprint(testKey(1)))
	assert.NotEqual(t, fp, SecretFingerprint(testKey(2)))
	assert.NotContains(t, string(testKey(1)), fp)
}

// BenchmarkCounting measures what the counts add to a request: one read
// and one save counted, as a verified session that is re-issued. Compare
// it with BenchmarkCycle's time per request.
func BenchmarkCounting(b *testing.B) {
	m, err := New(Options{Secrets: [][]byte{testKey(1)}})
	require.NoError(b, err)
	d := decoded{chunks: 1, size: 300, secret: m.secrets.Load().counters[0]}
	lines := []string{strings.Repeat("x", 400)}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.countRead(&d, nil, now)
		m.countWrite(lines, lines, nil)
	}
}
