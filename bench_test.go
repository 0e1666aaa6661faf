package cookiesession

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typicalValues is a session of ten values, about 275 bytes of JSON: what a
// logged-in user of a shop carries.
func typicalValues() map[string]any {
	return map[string]any{
		"user_id":    918273,
		"username":   "ada.lovelace",
		"email":      "ada.lovelace@example.com",
		"role":       "admin",
		"locale":     "en-GB",
		"theme":      "dark",
		"cart_count": 3,
		"last_login": "2026-11-27T18:04:05Z",
		"csrf":       "q3Z1bXlMb3JlbUlwc3VtRG9sb3JTaXRBbWV0",
		"return_to":  "/account/orders?page=2&sort=newest",
	}
}

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
			m, err := New(Options{Keys: [][]byte{testKey(1)}, Format: f})
			if err != nil {
				b.Fatal(err)
			}
			s := m.LoadHeader()
			setAll(s, typicalValues())
			lines, err := m.SaveHeader(s)
			if err != nil {
				b.Fatal(err)
			}
			header := lines[0][:len(lines[0])-len("; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax")]
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s := m.LoadHeader(header)
				n, ok := Value[int](s, "cart_count")
				if !ok {
					b.Fatal("session did not decode")
				}
				s.Set("cart_count", n+1)
				if _, err := m.SaveHeader(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(lines[0])), "cookie-B")
		})
	}
}

// largeValues is the typical session plus notes, about 2.5 KB of JSON:
// more than one default-format cookie holds.
func largeValues() map[string]any {
	v := typicalValues()
	v["notes"] = filler(2200)
	return v
}

// filler returns n characters of text that compresses like prose.
func filler(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "note %d: order %x shipped to %s; ", i, uint32(i)*2654435761, []string{"Leeds", "Oslo", "Lyon"}[i%3])
	}
	return b.String()[:n]
}

// benchWriter is a reusable http.ResponseWriter that keeps headers and
// discards the body, so the benchmarks measure the session work.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// cycle is one implementation under test: a handler behind the
// implementation's own middleware (or load/save path) that reads
// "cart_count" and sets it to a new value.
type cycle struct {
	handler http.Handler
	// cookie is the Cookie header of a request that carries the session.
	cookie string
}

// runCycle measures full request cycles and reports the bytes on the wire:
// the Cookie request header plus the Set-Cookie response headers.
func runCycle(b *testing.B, c cycle) {
	base := httptest.NewRequest(http.MethodGet, "/", nil)
	base.Header.Set("Cookie", c.cookie)
	w := &benchWriter{h: http.Header{}}
	wire := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		// A fresh shallow copy per request: gorilla/sessions caches the
		// session in the request's context.
		c.handler.ServeHTTP(w, base.WithContext(context.Background()))
		wire = len(c.cookie)
		for _, v := range w.h.Values("Set-Cookie") {
			wire += len(v)
		}
	}
	b.ReportMetric(float64(wire), "wire-B/op")
}

// firstCookies serves one request that stores values and returns the
// Cookie header the client sends next.
func firstCookies(b *testing.B, h http.Handler) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?init=1", nil))
	var parts []string
	for _, c := range rec.Result().Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		b.Fatal("no session cookie was set")
	}
	return strings.Join(parts, "; ")
}

func cookiesessionCycle(b *testing.B, opts Options, values map[string]any) cycle {
	opts.Keys = [][]byte{testKey(1)}
	m, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if r.URL.RawQuery == "init=1" {
			setAll(s, values)
			return
		}
		n, _ := Value[int](s, "cart_count")
		s.Set("cart_count", n+1)
	}))
	return cycle{h, firstCookies(b, h)}
}

func gorillaCycle(b *testing.B, values map[string]any) cycle {
	store := sessions.NewCookieStore(derive(testKey(1), labelSCHash), derive(testKey(1), labelSCBlock))
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(16 * 1024) // the large session exceeds its 4096 default
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		if r.URL.RawQuery == "init=1" {
			for k, v := range values {
				s.Values[k] = v
			}
		} else {
			n, _ := s.Values["cart_count"].(int)
			s.Values["cart_count"] = n + 1
		}
		if err := s.Save(r, w); err != nil {
			b.Fatal(err)
		}
	})
	return cycle{h, firstCookies(b, h)}
}

func scsCycle(b *testing.B, store scs.Store, values map[string]any) cycle {
	sm := scs.New()
	sm.Store = store
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "init=1" {
			for k, v := range values {
				sm.Put(r.Context(), k, v)
			}
			return
		}
		sm.Put(r.Context(), "cart_count", sm.GetInt(r.Context(), "cart_count")+1)
	}))
	return cycle{h, firstCookies(b, h)}
}

// floorCycle is the least work the job needs with the standard library:
// base64url, AES-256-GCM and encoding/json, both ways, without HTTP.
func floorCycle(b *testing.B, values map[string]any) {
	block, _ := aes.NewCipher(derive(testKey(1), "floor"))
	gcm, _ := cipher.NewGCM(block)
	seal := func(v map[string]any) string {
		plain, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		nonce := randomBytes(gcm.NonceSize())
		return "session=" + base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, plain, nil))
	}
	cookie := seal(values)
	var setCookie string
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		raw, err := base64.RawURLEncoding.DecodeString(cookie[len("session="):])
		if err != nil {
			b.Fatal(err)
		}
		plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(plain, &v); err != nil {
			b.Fatal(err)
		}
		n, _ := v["cart_count"].(float64)
		v["cart_count"] = n + 1
		setCookie = seal(v)
	}
	b.ReportMetric(float64(len(cookie)+len(setCookie)), "wire-B/op")
}

// BenchmarkCycle compares full request cycles: a request carrying the
// session goes through each implementation's middleware, the handler reads
// one value and changes one, and the Set-Cookie is produced. scs-redisstore
// needs a redis-server at REDIS_ADDR (scripts/bench.sh starts one).
func BenchmarkCycle(b *testing.B) {
	sizes := []struct {
		name   string
		values map[string]any
		chunks int
	}{
		{"typical", typicalValues(), 1},
		{"large", largeValues(), 2},
	}
	for _, size := range sizes {
		b.Run("cookiesession/"+size.name, func(b *testing.B) {
			runCycle(b, cookiesessionCycle(b, Options{MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-signonly/"+size.name, func(b *testing.B) {
			runCycle(b, cookiesessionCycle(b, Options{Format: FormatSignOnly, MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-compact/"+size.name, func(b *testing.B) {
			runCycle(b, cookiesessionCycle(b, Options{Format: FormatCompact}, size.values))
		})
		b.Run("cookiesession-revocations/"+size.name, func(b *testing.B) {
			runCycle(b, cookiesessionCycle(b, Options{MaxChunks: size.chunks, Revocations: millionRevoked()}, size.values))
		})
		b.Run("gorilla-cookiestore/"+size.name, func(b *testing.B) {
			runCycle(b, gorillaCycle(b, size.values))
		})
		b.Run("scs-memstore/"+size.name, func(b *testing.B) {
			runCycle(b, scsCycle(b, memstore.New(), size.values))
		})
		b.Run("scs-redisstore/"+size.name, func(b *testing.B) {
			addr := os.Getenv("REDIS_ADDR")
			if addr == "" {
				b.Skip("REDIS_ADDR is not set; scripts/bench.sh starts a redis-server")
			}
			pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", addr) }}
			defer pool.Close()
			runCycle(b, scsCycle(b, redisstore.New(pool), size.values))
		})
		b.Run("floor/"+size.name, func(b *testing.B) {
			floorCycle(b, size.values)
		})
	}
	// A request whose handler never touches the session: no decoding, no
	// crypto, no Set-Cookie.
	b.Run("cookiesession/untouched", func(b *testing.B) {
		c := cookiesessionCycle(b, Options{}, typicalValues())
		m, _ := New(Options{Keys: [][]byte{testKey(1)}})
		c.handler = m.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		runCycle(b, c)
	})
}

// capacity returns the largest JSON of the session's values that one
// 4096-byte cookie holds, with values built by fill(n).
func capacity(t *testing.T, opts Options, fill func(n int) string) int {
	t.Helper()
	m, _ := newTestManager(t, opts)
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
	m, _ := newTestManager(t, opts)
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
		{"securecookie (default)", Options{}},
		{"sign-only", Options{Format: FormatSignOnly}},
		{"compact", Options{Format: FormatCompact}},
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
	assert.GreaterOrEqual(t, got["compact"], 2900, "target: compact holds at least 2,900 bytes of incompressible JSON")
	assert.Greater(t, got["compact"], got["securecookie (default)"]*4/3-50, "compact holds about a third more")
}

// BenchmarkHostileHeader sends 1 MiB Cookie headers of different shapes
// (hostileShapes) through the middleware to a handler that reads the
// session. Every shape must cost about what the same length of unrelated
// cookies costs, with a bounded number of allocations: an attacker gains
// nothing by naming our cookies.
func BenchmarkHostileHeader(b *testing.B) {
	m, shapes := hostileShapes(b)
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).IsNew()
	}))
	for _, c := range shapes {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Cookie", c.header)
			w := &benchWriter{h: http.Header{}}
			setCookie := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
				setCookie = 0
				for _, v := range w.h.Values("Set-Cookie") {
					setCookie += len(v)
				}
			}
			b.ReportMetric(float64(len(c.header)), "header-B")
			b.ReportMetric(float64(setCookie), "set-cookie-B/op")
		})
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
		id := base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(make([]byte, 8, 16), uint64(i)))
		_ = l.Revoke(context.Background(), Revocation{SessionID: id, Until: until})
		if i%1000 == 0 {
			_ = l.Revoke(context.Background(), Revocation{Subject: fmt.Sprintf("user-%d", i), Before: until, Until: until})
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
	info := SessionInfo{ID: GenerateKey()[:22], Subject: "user-7", Created: time.Now(), Expires: time.Now().Add(time.Hour)}
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
