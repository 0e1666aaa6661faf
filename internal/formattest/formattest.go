// Package formattest holds what the tests of the formats of other stacks
// (format/...) share.
package formattest

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/benchcycle"
)

// HexSecret returns a 64-character secret made from seed, in hex as
// Python's secrets.token_hex() prints one: the same for every run, and
// strong enough for every format.
func HexSecret(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

// New returns the manager of opts with secrets added to opts.Secrets, or
// fails the test. Each format's newManager fills in its own defaults
// (format, cookie name, lifetime) and calls it.
func New(t testing.TB, opts cookiesession.Options, secrets ...string) *cookiesession.Manager {
	t.Helper()
	for _, s := range secrets {
		opts.Secrets = append(opts.Secrets, []byte(s))
	}
	m, err := cookiesession.New(opts)
	require.NoError(t, err)
	return m
}

// Save loads the session of the Cookie header, lets change change it and
// returns the Set-Cookie lines that save it.
func Save(t testing.TB, m *cookiesession.Manager, header string, change func(s *cookiesession.Session)) []string {
	t.Helper()
	s := m.LoadHeader(header)
	change(s)
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	return lines
}

// Saved returns the value that Set-Cookie lines give the cookie called
// name, or "" when they only delete it or do not name it: the value a test
// hands to the other stack.
func Saved(t testing.TB, lines []string, name string) string {
	t.Helper()
	for _, l := range lines {
		c, err := http.ParseSetCookie(l)
		require.NoError(t, err)
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// Spliced returns a forgery for a format whose value is a payload, sep and
// then what signs it: the payload of a session of m that sets key to "2",
// joined to the rest of the value of one that sets it to "1". Both halves
// are genuine, so only a signature over the whole value refuses it.
func Spliced(t testing.TB, m *cookiesession.Manager, name, sep, key string) string {
	t.Helper()
	value := func(v string) string {
		return Saved(t, Save(t, m, "", func(s *cookiesession.Session) { s.Set(key, v) }), name)
	}
	signed := value("1")
	forged, _, _ := strings.Cut(value("2"), sep)
	_, sig, _ := strings.Cut(signed, sep)
	return forged + sep + sig
}

// CookiesOf returns the name=value pairs of Set-Cookie lines as a Cookie
// header, leaving out deletions: what a browser sends back.
func CookiesOf(lines []string) string {
	var parts []string
	for _, l := range lines {
		c, err := http.ParseSetCookie(l)
		if err == nil && c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// Refused asserts that m refuses the session of the Cookie header with
// target: Inspect gives it as the reason, and a request that loads the
// header starts a new session.
func Refused(t testing.TB, m *cookiesession.Manager, header string, target error) {
	t.Helper()
	_, err := m.Inspect(header)
	assert.ErrorIs(t, err, target)
	assert.True(t, m.LoadHeader(header).IsNew())
}

// Names returns the cookie names of Set-Cookie lines, in order.
func Names(lines []string) []string {
	var names []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "=")
		names = append(names, name)
	}
	return names
}

// Chunked splits value into the cookies NAME.0, NAME.1, … of at most 3,900
// bytes, as a Cookie header: how the Node stacks split a large session.
func Chunked(name, value string) string {
	var parts []string
	for i := 0; value != ""; i++ {
		n := min(3900, len(value))
		parts = append(parts, name+"."+strconv.Itoa(i)+"="+value[:n])
		value = value[n:]
	}
	return strings.Join(parts, "; ")
}

// JSON returns v as JSON, to compare sessions with assert.JSONEq whatever
// Go types hold them.
func JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// Bounded asserts that m refuses the session of the Cookie header within
// the bounds SECURITY.md states for every request: at most 100
// allocations and 512 KiB.
func Bounded(t *testing.T, m *cookiesession.Manager, header string) {
	t.Helper()
	serve := func() {
		if !m.LoadHeader(header).IsNew() {
			t.Fatal("a forged value was accepted")
		}
	}
	assert.LessOrEqual(t, testing.AllocsPerRun(5, serve), 100.0, "allocations per request")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	serve()
	runtime.ReadMemStats(&after)
	assert.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(512<<10), "bytes allocated per request")
}

// Bomb returns a zlib stream, at best compression, of a JSON object whose
// one string inflates to 2 MiB: the payload of a compressed cookie that a
// reader must stop inflating at 1 MiB.
func Bomb(tb testing.TB) []byte {
	var z bytes.Buffer
	w, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	require.NoError(tb, err)
	_, _ = w.Write([]byte(`{"a":"`))
	_, _ = w.Write(make([]byte, 2<<20))
	require.NoError(tb, w.Close())
	return z.Bytes()
}

// BombBounded asserts that m refuses bomb, the value of the cookie called
// name whose signed, compressed payload inflates past 1 MiB, having
// allocated less than 3 MiB.
func BombBounded(t *testing.T, m *cookiesession.Manager, name, bomb string) {
	t.Helper()
	require.Less(t, len(bomb), 4096, "it fits in a cookie")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := m.Inspect(name + "=" + bomb)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	assert.ErrorContains(t, err, "1 MiB")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(3<<20), "allocated bytes")
}

// HostileHeaders runs the sub-benchmarks of SECURITY.md's table of hostile
// Cookie headers against m, which reads the cookie called name with keys
// keys: 1 MiB of unrelated cookies (the reference), one value of about
// 4 KB that garbage shapes as the format's and no key opens, 1 MiB of such
// values and, for a format that compresses, bomb (see BombBounded; empty
// for one that does not).
func HostileHeaders(b *testing.B, m *cookiesession.Manager, name string, keys int, garbage func(n int) string, bomb string) {
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).IsNew()
	}))
	var distinct strings.Builder
	for distinct.Len() < 1<<20 {
		distinct.WriteString(name + "=" + garbage(4000) + "; ")
	}
	k := strconv.Itoa(keys) + "-keys"
	cases := []struct{ name, header string }{
		{"unrelated-1MiB", strings.Repeat("x=y; ", (1<<20)/5)},
		{"garbage-4KB-" + k, name + "=" + garbage(4000)},
		{"distinct-4KB-values-1MiB-" + k, distinct.String()},
	}
	if bomb != "" {
		cases = append(cases, struct{ name, header string }{"signed-bomb-" + strconv.Itoa(len(bomb)/1024) + "KB-inflating-2MiB", name + "=" + bomb})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchcycle.Header(b, h, c.header) })
	}
}

// HostileLoad measures m refusing the session of the Cookie header,
// reporting allocations and the header's size (header-B), and fails the
// benchmark if m accepts it.
func HostileLoad(b *testing.B, m *cookiesession.Manager, header string) {
	b.ReportAllocs()
	for b.Loop() {
		if !m.LoadHeader(header).IsNew() {
			b.Fatal("a forged value was accepted")
		}
	}
	b.ReportMetric(float64(len(header)), "header-B")
}

// SigningTimeIsCreation asserts, for a format that derives a session's
// creation time from its signing time, that cookie (named name, signed
// with secret at signed by the other stack, which keeps it for lifetime)
// is created at signed whatever Options.MaxAge is, so that RevokeAll and
// NotBefore end it with the default MaxAge.
func SigningTimeIsCreation(t *testing.T, format cookiesession.Format, name, secret, cookie string, signed time.Time, lifetime time.Duration) {
	t.Helper()
	m := New(t, cookiesession.Options{Format: format, Name: name, Revocations: cookiesession.NewMemoryRevocations()}, secret)
	in, err := m.Inspect(cookie)
	require.NoError(t, err)
	assert.True(t, signed.Equal(in.Created), "created %v, signed %v", in.Created, signed)
	assert.True(t, signed.Add(lifetime).Equal(in.Expires))

	require.NoError(t, m.RevokeAll(context.Background()))
	Refused(t, m, cookie, cookiesession.ErrRevoked)

	m = New(t, cookiesession.Options{Format: format, Name: name, NotBefore: signed.Add(time.Second)}, secret)
	_, err = m.Inspect(cookie)
	assert.ErrorIs(t, err, cookiesession.ErrRevoked)
}

// FuzzOpen is the body of each format's FuzzOpen: no value makes Open
// panic, nothing opens but a session sealer sealed (the sessions given, as
// JSON objects, each expiring at expires; zero for a format that derives
// its expiry), and what opens seals and opens again to the same session.
// junk are further seeds, shaped like the format's values.
func FuzzOpen(f *testing.F, sealer cookiesession.Sealer, expires time.Time, sessions []string, junk ...string) {
	now := time.Now()
	sealed := map[string]bool{}
	for _, s := range sessions {
		values, err := cookiesession.ParseObject([]byte(s))
		require.NoError(f, err)
		v, err := sealer.Seal(&cookiesession.Record{Values: values, Expires: expires}, now)
		require.NoError(f, err)
		f.Add(v)
		r, _, err := sealer.Open(v, now)
		require.NoError(f, err)
		sealed[string(cookiesession.AppendObject(nil, r.Values))] = true
	}
	for _, j := range junk {
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r, ok := OpensOnlySealed(t, sealer, sealed, value, now)
		if !ok {
			return
		}
		again, err := sealer.Seal(&r, now)
		require.NoError(t, err)
		r2, _, err := sealer.Open(again, now)
		require.NoError(t, err)
		assert.Equal(t, r.Values, r2.Values)
		assert.Equal(t, r.ID, r2.ID)
	})
}

// OpensOnlySealed opens value with sealer at now and asserts that it is
// refused with ErrInvalid or opens to a session that was sealed: sealed
// holds the AppendObject encoding of each sealed session's values. It
// returns the session and whether value opened: the check of every
// format's FuzzOpen.
func OpensOnlySealed(t *testing.T, sealer cookiesession.Sealer, sealed map[string]bool, value string, now time.Time) (cookiesession.Record, bool) {
	t.Helper()
	r, _, err := sealer.Open(value, now)
	if err != nil {
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
		return r, false
	}
	require.True(t, sealed[string(cookiesession.AppendObject(nil, r.Values))], "opened a session it never sealed: %q", value)
	return r, true
}

// WeakSecretRefused asserts that New refuses format with a good secret
// and weak after it: with ErrWeakSecret, an error that says
// "cookiesession:" once, and names the weak one by its place, as what,
// the format's own word for a secret ("Flask SECRET_KEY 1"), so that an
// operator knows which line of a secrets file to fix.
func WeakSecretRefused(t *testing.T, format cookiesession.Format, good, weak, what string) {
	t.Helper()
	_, err := cookiesession.New(cookiesession.Options{Format: format, Secrets: [][]byte{[]byte(good), []byte(weak)}})
	require.ErrorIs(t, err, cookiesession.ErrWeakSecret)
	assert.Equal(t, 1, strings.Count(err.Error(), "cookiesession:"), err.Error())
	assert.Contains(t, err.Error(), what+" 1", "names the second secret")
}
