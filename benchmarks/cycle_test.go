// Package benchmarks compares cookiesession with other ways to keep a Go
// session: gorilla/sessions' CookieStore, scs with its in-memory and Redis
// stores, and a floor of the standard library's own JSON, AES-GCM and
// base64. It is a module of its own so that those packages never reach
// the library's go.mod. scripts/bench.sh runs it and draws the chart.
// The end-to-end comparison, each implementation a server of its own
// under load with real stores, is the command in compare/.
package benchmarks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/benchcycle"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// key is a fixed secret: the figures do not depend on its value.
var key = []byte("benchmarks-only-key-0001-use-GenerateSecret-instead")

func cookiesessionCycle(b *testing.B, opts cookiesession.Options, values map[string]any) benchcycle.Cycle {
	opts.Secrets = [][]byte{key}
	m, err := cookiesession.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return benchcycle.New(b, m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if benchcycle.IsInit(r) {
			for k, v := range values {
				s.Set(k, v)
			}
			return
		}
		n, _ := cookiesession.Value[int](s, "cart_count")
		s.Set("cart_count", n+1)
	})))
}

func gorillaCycle(b *testing.B, values map[string]any) benchcycle.Cycle {
	store := sessions.NewCookieStore(key[:32], key[len(key)-32:])
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(16 * 1024) // the large session exceeds its 4096 default
	}
	return benchcycle.New(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		if benchcycle.IsInit(r) {
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
	}))
}

func scsCycle(b *testing.B, store scs.Store, values map[string]any) benchcycle.Cycle {
	sm := scs.New()
	sm.Store = store
	return benchcycle.New(b, sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if benchcycle.IsInit(r) {
			for k, v := range values {
				sm.Put(r.Context(), k, v)
			}
			return
		}
		sm.Put(r.Context(), "cart_count", sm.GetInt(r.Context(), "cart_count")+1)
	})))
}

// floorCycle is the least work the job needs with the standard library:
// base64url, AES-256-GCM and encoding/json, both ways, without HTTP.
func floorCycle(b *testing.B, values map[string]any) {
	block, _ := aes.NewCipher(key[:32])
	gcm, _ := cipher.NewGCM(block)
	seal := func(v map[string]any) string {
		plain, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		nonce := make([]byte, gcm.NonceSize())
		_, _ = rand.Read(nonce)
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
// session goes through each implementation's middleware (or load/save
// path), the handler reads one value and changes one, and the Set-Cookie
// is produced. scs-redisstore needs a redis-server at REDIS_ADDR
// (scripts/bench.sh starts one).
func BenchmarkCycle(b *testing.B) {
	sizes := []struct {
		name   string
		values map[string]any
		chunks int
	}{
		{"typical", benchcycle.TypicalValues(), 1},
		{"large", benchcycle.LargeValues(), 2},
	}
	for _, size := range sizes {
		// "cookiesession" is the securecookie format, the default until
		// v1.0.0, so that results stay comparable.
		b.Run("cookiesession/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, cookiesession.Options{Format: cookiesession.FormatSecureCookie, MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-signonly/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, cookiesession.Options{Format: cookiesession.FormatSignOnly, MaxChunks: size.chunks}, size.values))
		})
		b.Run("cookiesession-compact/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, cookiesessionCycle(b, cookiesession.Options{Format: cookiesession.FormatCompact}, size.values))
		})
		b.Run("gorilla-cookiestore/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, gorillaCycle(b, size.values))
		})
		b.Run("scs-memstore/"+size.name, func(b *testing.B) {
			benchcycle.Run(b, scsCycle(b, memstore.New(), size.values))
		})
		b.Run("scs-redisstore/"+size.name, func(b *testing.B) {
			addr := os.Getenv("REDIS_ADDR")
			if addr == "" {
				b.Skip("REDIS_ADDR is not set; scripts/bench.sh starts a redis-server")
			}
			pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", addr) }}
			defer pool.Close()
			benchcycle.Run(b, scsCycle(b, redisstore.New(pool), size.values))
		})
		b.Run("floor/"+size.name, func(b *testing.B) {
			floorCycle(b, size.values)
		})
	}
}
