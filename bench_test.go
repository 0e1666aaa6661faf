package cookiesession

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession/internal/benchcycle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/chacha20poly1305"
)

// This file holds the package's own benchmarks. The comparisons with other
// session packages live in the benchmarks module, so that their
// dependencies stay out of this module's go.mod.

func typicalValues() map[string]any { return benchcycle.TypicalValues() }

func setAll(s *Session, values map[string]any) {
	for k, v := range values {
		s.Set(k, v)
	}
}

// BenchmarkRoundTrip encodes a typical session into Set-Cookie lines and
// decodes it from the Cookie header, reading one value: the codec's work
// on a request that changes the session, without HTTP.
func BenchmarkRoundTrip(b *testing.B) {
	for _, f := range []Format{FormatSecureCookie, FormatCompact, FormatSignOnly} {
		b.Run(f.String(), func(b *testing.B) {
			op, cookieLen := roundTrip(b, f)
			b.ReportAllocs()
			for b.Loop() {
				op()
			}
			b.ReportMetric(float64(cookieLen), "cookie-B")
		})
	}
}

// roundTrip returns one round trip of a typical session in format f, and
// the length of its Set-Cookie line.
func roundTrip(b *testing.B, f Format) (op func(), cookieLen int) {
	m, err := New(Options{Secrets: [][]byte{testKey(1)}, Format: f})
	require.NoError(b, err)
	s := m.LoadHeader()
	setAll(s, typicalValues())
	lines, err := m.SaveHeader(s)
	require.NoError(b, err)
	header, _, _ := strings.Cut(lines[0], ";")
	return func() {
		s := m.LoadHeader(header)
		n, ok := Value[int](s, "cart_count")
		if !ok {
			b.Fatal("session did not decode")
		}
		s.Set("cart_count", n+1)
		if _, err := m.SaveHeader(s); err != nil {
			b.Fatal(err)
		}
	}, len(lines[0])
}

func cookiesessionCycle(b *testing.B, opts Options, values map[string]any) benchcycle.Cycle {
	opts.Secrets = [][]byte{testKey(1)}
	m, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return benchcycle.New(b, m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if benchcycle.IsInit(r) {
			setAll(s, values)
			return
		}
		n, _ := Value[int](s, "cart_count")
		s.Set("cart_count", n+1)
	})))
}

// BenchmarkCycle measures full request cycles through the middleware: a
// request carrying the session, a handler that reads one value and changes
// one, and the Set-Cookie produced. The benchmarks module runs the same
// cycle against gorilla/sessions, scs and a standard-library floor.
func BenchmarkCycle(b *testing.B) {
	sizes := []struct {
		name   string
		values map[string]any
		chunks int
	}{
		{"typical", typicalValues(), 1},
		{"large", benchcycle.LargeValues(), 2},
	}
	for _, size := range sizes {
		// "cookiesession" is the securecookie format, the default until
		// v1.0.0, so that results stay comparable.
		b.Run("cookiesession/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, Options{Format: FormatSecureCookie, MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-signonly/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, Options{Format: FormatSignOnly, MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-compact/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, Options{Format: FormatCompact}, size.values))
		})
		b.Run("cookiesession-revocations/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, Options{Format: FormatSecureCookie, MaxChunks: size.chunks, Revocations: millionRevoked()}, size.values))
		})
	}
	// A request whose handler never touches the session: no decoding, no
	// crypto, no Set-Cookie. The securecookie format's, as "cookiesession"
	// above: its Cookie header is the one the documentation quotes.
	b.Run("cookiesession/untouched", func(b *testing.B) {
		c := cookiesessionCycle(b, Options{Format: FormatSecureCookie}, typicalValues())
		m, _ := New(Options{Format: FormatSecureCookie, Secrets: [][]byte{testKey(1)}})
		c.Handler = m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		benchcycle.Run(b, c)
	})
}

// realisticManager is a test manager whose clock is not on a whole
// second, as real creation times almost never are: their milliseconds
// travel in the cookie too.
func realisticManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	m, clk := newTestManager(t, opts)
	clk.Add(123 * time.Millisecond)
	return m
}

// capacity returns the largest JSON of the session's values that one
// 4096-byte cookie holds, with values built by fill(n).
func capacity(t *testing.T, opts Options, fill func(n int) string) int {
	t.Helper()
	m := realisticManager(t, opts)
	fits := func(n int) bool {
		s := m.LoadHeader()
		s.Set("d", fill(n))
		_, err := m.SaveHeader(s)
		return err == nil
	}
	lo, hi := 0, 64*1024 // fits(lo), !fits(hi)
	require.True(t, fits(lo))
	require.False(t, fits(hi))
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	values, err := json.Marshal(map[string]string{"d": fill(lo)})
	require.NoError(t, err)
	return len(values)
}

// cookieBytes returns the Set-Cookie line for a session of about 300 bytes
// of JSON values.
func cookieBytes(t *testing.T, opts Options) (jsonBytes, lineBytes int) {
	t.Helper()
	m := realisticManager(t, opts)
	s := m.LoadHeader()
	values := typicalValues()
	for k, v := range values {
		s.Set(k, v)
	}
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	require.Len(t, lines, 1)
	j, _ := json.Marshal(values)
	return len(j), len(lines[0])
}

// TestCapacityTable measures what one 4096-byte cookie holds in each
// format; `go test -run CapacityTable -v` prints the README's table.
func TestCapacityTable(t *testing.T) {
	// Random text does not compress; a list of similar records does.
	noise := randomText(64 * 1024)
	incompressible := func(n int) string { return noise[:n] }
	// Typical: a list of cart items, similar in shape, different in data.
	words := []string{"atlas", "novel", "guide", "poems", "letters", "essays", "history", "manual", "stories", "diary"}
	typicalJSON := func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			h := uint32(i) * 2654435761
			fmt.Fprintf(&b, `{"line":"%s","sku":"BK-%05d","title":"The %s of %s","qty":%d,"price":"%d.%02d"},`,
				noise[i*10:i*10+10], h%100000, words[h%10], words[(h/10)%10], 1+h%3, 5+h%40, h%100)
		}
		return b.String()[:n]
	}
	rows := []struct {
		name string
		opts Options
	}{
		{"compact (default)", Options{}},
		{"securecookie", Options{Format: FormatSecureCookie}},
		{"sign-only", Options{Format: FormatSignOnly}},
		{"compact + Compress", Options{Format: FormatCompact, Compress: true}},
	}
	got := map[string]int{}
	t.Log("| format | random text (JSON bytes) in one cookie | typical JSON in one cookie | Set-Cookie bytes for the typical session |")
	t.Log("| --- | ---: | ---: | ---: |")
	for _, row := range rows {
		inc := capacity(t, row.opts, incompressible)
		typ := capacity(t, row.opts, typicalJSON)
		j, line := cookieBytes(t, row.opts)
		got[row.name] = inc
		t.Logf("| %s | %d | %d | %d (for %d bytes of JSON) |", row.name, inc, typ, line, j)
	}
	assert.GreaterOrEqual(t, got["compact (default)"], 2900, "target: compact holds at least 2,900 bytes of incompressible JSON")
	assert.Greater(t, got["compact (default)"], got["securecookie"]*4/3-50, "compact holds about a third more")
}

// BenchmarkHostileHeader sends 1 MiB Cookie headers of different shapes
// (hostileShapes) through the middleware to a handler that reads the
// session. Every shape must cost about what the same length of unrelated
// cookies costs, with a bounded number of allocations: an attacker gains
// nothing by naming our cookies. The shapes are measured with a Manager
// that writes 16 chunks, and again under reading-with-MaxChunks-1/ with
// one that writes a single cookie but reads what one writing 16 did.
func BenchmarkHostileHeader(b *testing.B) {
	benchmarkHostileHeader(b, maxChunksLimit)
	b.Run("reading-with-MaxChunks-1", func(b *testing.B) { benchmarkHostileHeader(b, 1) })
}

func benchmarkHostileHeader(b *testing.B, maxChunks int) {
	m, shapes := hostileShapes(b, maxChunks)
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).IsNew()
	}))
	for _, c := range shapes {
		b.Run(c.name, func(b *testing.B) { benchcycle.Header(b, h, c.header) })
	}
}

// millionRevoked returns a list holding one million revoked session IDs
// and a thousand revoked subjects, built once per process.
var millionRevoked = sync.OnceValue(func() *MemoryRevocations {
	l := NewMemoryRevocations()
	fillRevocations(l, 1_000_000)
	return l
})

func fillRevocations(l *MemoryRevocations, n int) {
	until := time.Now().Add(24 * time.Hour)
	for i := range n {
		// 16 bytes, as session IDs are: 22 characters.
		id := base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(make([]byte, 8, 16), uint64(i))[:16])
		_ = l.Revoke(context.Background(), SessionRevocation(id, until))
		if i%1000 == 0 {
			_ = l.Revoke(context.Background(), SubjectRevocation(fmt.Sprintf("user-%d", i), until, until))
		}
	}
}

// BenchmarkRevocationList measures the list with one million revoked
// session IDs: the memory per entry, and the check every request that
// uses a session makes (a session that is not revoked, the common case).
func BenchmarkRevocationList(b *testing.B) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l := NewMemoryRevocations()
	const n = 1_000_000
	fillRevocations(l, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	info := SessionInfo{ID: string(GenerateSecret()[:22]), Subject: "user-7", Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if l.Revoked(ctx, info) {
			b.Fatal("revoked")
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(l.Len()), "heap-B/entry")
	runtime.KeepAlive(l)
}

// BenchmarkRevocationLoad measures filling a list with a million revoked
// sessions, as a replica does when it starts on a shared list: one Revoke
// each, against RevokeMany in batches of 8192 (a page of the shared list),
// with and without Grow ahead of them.
func BenchmarkRevocationLoad(b *testing.B) {
	const n, batch = 1_000_000, 8192
	until := time.Now().Add(24 * time.Hour)
	rs := make([]Revocation, n)
	for i := range rs {
		rs[i] = SessionRevocation(string(GenerateSecret()[:22]), until)
	}
	ctx := context.Background()
	b.Run("Revoke", func(b *testing.B) {
		for b.Loop() {
			l := NewMemoryRevocations()
			for _, r := range rs {
				_ = l.Revoke(ctx, r)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
	})
	for _, grow := range []bool{false, true} {
		name := "RevokeMany"
		if grow {
			name = "Grow+RevokeMany"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				l := NewMemoryRevocations()
				if grow {
					l.Grow(n)
				}
				for start := 0; start < n; start += batch {
					_ = l.RevokeMany(ctx, rs[start:min(start+batch, n)])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}

// typicalPayload returns the envelope JSON of the typical session: what
// every format seals.
func typicalPayload() []byte { return typicalEnvelope(time.Now()).appendJSON(nil) }

// typicalEnvelope is a typical session as created at now.
func typicalEnvelope(now time.Time) *envelope {
	e := envelope{ID: string(GenerateSecret()[:22]), Created: now.Unix(), Expires: now.Add(time.Hour).Unix()}
	for k, v := range typicalValues() {
		raw, _ := json.Marshal(v)
		e.Values = append(e.Values, field{k, string(raw)})
	}
	return &e
}

// BenchmarkFloor is the least work a round trip of the typical session
// needs in each layout, with no JSON and no HTTP: seal with a fresh random
// nonce or IV, encode, decode, open. BenchmarkRoundTrip's figures divided
// by these say how far each format is from what is physically necessary;
// BenchmarkFloorRatio measures that quotient.
func BenchmarkFloor(b *testing.B) {
	for _, f := range []Format{FormatCompact, FormatSecureCookie} {
		b.Run(floorName(f), func(b *testing.B) {
			op := floor(b, f)
			b.ReportAllocs()
			for b.Loop() {
				op()
			}
		})
	}
}

// BenchmarkFloorRatio is BenchmarkRoundTrip's time over BenchmarkFloor's,
// each format's round trip and floor taking turns in blocks of 100 ops,
// so that the machine's drift during the run weighs on both alike: run
// one after the other, the two benchmarks can each be 10-20% off. Its
// ns/op is that of a pair of blocks; the metrics are per op.
func BenchmarkFloorRatio(b *testing.B) {
	for _, f := range []Format{FormatCompact, FormatSecureCookie} {
		b.Run(f.String(), func(b *testing.B) {
			roundTrip, _ := roundTrip(b, f)
			floor := floor(b, f)
			var inRoundTrip, inFloor time.Duration
			timed := func(op func()) time.Duration {
				start := time.Now()
				for range 100 {
					op()
				}
				return time.Since(start)
			}
			for b.Loop() {
				inRoundTrip += timed(roundTrip)
				inFloor += timed(floor)
			}
			b.ReportMetric(float64(inRoundTrip)/float64(inFloor), "ratio")
			b.ReportMetric(float64(inRoundTrip.Nanoseconds())/float64(100*b.N), "roundtrip-ns/op")
			b.ReportMetric(float64(inFloor.Nanoseconds())/float64(100*b.N), "floor-ns/op")
		})
	}
}

func floorName(f Format) string {
	if f == FormatCompact {
		return "aead"
	}
	return f.String()
}

// floor returns one op of format f's floor.
func floor(b *testing.B, f Format) func() {
	plain := typicalPayload()
	aad := []byte("\x01\x00session")
	if f == FormatCompact {
		// XChaCha20-Poly1305, base64url once.
		aead, err := chacha20poly1305.NewX(derive(testKey(1), labelCompact))
		require.NoError(b, err)
		sealed := make([]byte, 0, chacha20poly1305.NonceSizeX+len(plain)+chacha20poly1305.Overhead)
		return func() {
			nonce := sealed[:chacha20poly1305.NonceSizeX]
			_, _ = rand.Read(nonce)
			value := base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, aad))
			raw, err := base64.RawURLEncoding.DecodeString(value)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := aead.Open(nil, raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:], aad); err != nil {
				b.Fatal(err)
			}
		}
	}
	// securecookie's layout: AES-256-CTR with a random IV, base64,
	// HMAC-SHA256 over "name|timestamp|value", base64 again.
	block, err := aes.NewCipher(derive(testKey(1), labelSCBlock))
	require.NoError(b, err)
	mac := hmac.New(sha256.New, derive(testKey(1), labelSCHash))
	return func() {
		// Seal.
		ct := make([]byte, aes.BlockSize+len(plain))
		_, _ = rand.Read(ct[:aes.BlockSize])
		cipher.NewCTR(block, ct[:aes.BlockSize]).XORKeyStream(ct[aes.BlockSize:], plain)
		inner := base64.URLEncoding.EncodeToString(ct)
		signed := "session|" + strconv.FormatInt(time.Now().Unix(), 10) + "|" + inner
		mac.Reset()
		mac.Write([]byte(signed))
		value := base64.URLEncoding.EncodeToString(mac.Sum([]byte(signed[len("session|"):] + "|")))
		// Open.
		outer, err := base64.URLEncoding.DecodeString(value)
		if err != nil {
			b.Fatal(err)
		}
		parts := bytes.SplitN(outer, []byte("|"), 3)
		mac.Reset()
		mac.Write([]byte("session|"))
		mac.Write(outer[:len(parts[0])+1+len(parts[1])])
		if !hmac.Equal(mac.Sum(nil), parts[2]) {
			b.Fatal("MAC")
		}
		ct, err = base64.URLEncoding.DecodeString(string(parts[1]))
		if err != nil {
			b.Fatal(err)
		}
		cipher.NewCTR(block, ct[:aes.BlockSize]).XORKeyStream(ct[aes.BlockSize:], ct[aes.BlockSize:])
	}
}
