package cookiesession

import (
	"bytes"
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

// summaryLog returns a Manager whose warnings go to a buffer, on a clock,
// started at the clock's time.
func summaryLog(t *testing.T, opts Options) (*Manager, *clock, *bytes.Buffer) {
	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, clk := newTestManager(t, opts)
	m.stats.started = clk.Now()
	m.secrets.Load().changed = clk.Now()
	return m, clk, &logs
}

// TestRefusalSummary: refused cookies reach the default log level as one
// warning per period with the counts by reason since the last one, and a
// hint where the counts suggest a cause; never a cookie's content.
func TestRefusalSummary(t *testing.T) {
	m, clk, logs := summaryLog(t, Options{MaxChunks: 3})
	other, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(7)}})
	foreign := issue(t, other, func(s *Session) { s.Set("u", "x") }).header()
	for range 12 {
		serve(m, foreign, touch)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 1, "once per period: %s", logs)
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], `msg="cookiesession: 1 session cookie refused; it was a new session"`)
	assert.Contains(t, lines[0], "not_verified=1")
	assert.NotContains(t, lines[0], "hint=", "one stray cookie suggests nothing")
	assert.Contains(t, lines[0], "since_start=0s")
	assert.NotContains(t, logs.String(), strings.TrimPrefix(foreign, "session=")[:20])

	clk.Add(time.Minute)
	big := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	serve(m, "session="+big["session"].Value, touch)
	lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[1], `msg="cookiesession: 12 session cookies refused; each was a new session"`)
	assert.Contains(t, lines[1], "not_verified=11", "the refusals since the last summary")
	assert.Contains(t, lines[1], "since_last_summary=1m0s")
	assert.Contains(t, lines[1], "chunk_missing=1")
	assert.Contains(t, lines[1], "was a secret removed while its cookies were still live?")
	assert.Contains(t, lines[1], "a proxy or client drops cookies")

	clk.Add(time.Hour)
	good := issue(t, m, func(s *Session) { s.Set("u", "ok") })
	for range 3 {
		good.visit(m, touch)
	}
	serve(m, foreign, touch)
	lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 3)
	assert.NotContains(t, lines[2], "was a secret removed", "long after start, with sessions accepted")

	off, _, offLogs := summaryLog(t, Options{RefusalSummary: -1})
	serve(off, foreign, touch)
	assert.Empty(t, offLogs.String())
	assert.Equal(t, uint64(1), off.Counts().Refused[RefusedNotVerified], "counted all the same")
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
		m.countWrite(lines, 1, nil)
	}
}
