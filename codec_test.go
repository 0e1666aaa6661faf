package cookiesession

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compactValue(t *testing.T, m *Manager) string {
	t.Helper()
	v := issue(t, m, func(s *Session) { s.Set("user", "ada") })["session"].Value
	require.True(t, strings.HasPrefix(v, compactPrefix))
	return v
}

func TestCompactRoundTrip(t *testing.T) {
	m, _ := newTestManager(t, Options{Format: FormatCompact})
	b := issue(t, m, func(s *Session) {
		s.Set("user", 7)
		s.Set("name", "Ada; Lovelace")
	})
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew())
		n, _ := Value[int](s, "user")
		assert.Equal(t, 7, n)
		name, _ := Value[string](s, "name")
		assert.Equal(t, "Ada; Lovelace", name)
	})
	assert.Empty(t, resp.Cookies(), "unchanged compact session is not re-issued")

	// Keys that escape write JSON longer than the buffer was sized for,
	// which then moves before and while it is sealed.
	for _, compress := range []bool{false, true} {
		m, _ := newTestManager(t, Options{Format: FormatCompact, Compress: compress})
		key := strings.Repeat("<&>", 100)
		b := issue(t, m, func(s *Session) { s.Set(key, "\u2028 \"quoted\"") })
		b.visit(m, func(_ http.ResponseWriter, s *Session) {
			v, ok := Value[string](s, key)
			assert.True(t, ok, "compress %v", compress)
			assert.Equal(t, "\u2028 \"quoted\"", v, "compress %v", compress)
		})
	}
}

func TestCompactRejectsEveryTamperedByte(t *testing.T) {
	m, _ := newTestManager(t, Options{Format: FormatCompact})
	value := compactValue(t, m)
	raw, err := base64.RawURLEncoding.DecodeString(value[1:])
	require.NoError(t, err)
	require.Len(t, raw, compactMin+len(`{"i":"0123456789012345678901","c":1795867200,"m":"000","e":1795953600,"v":{"user":"ada"}}`))

	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			forged := append([]byte(nil), raw...)
			forged[i] ^= bit
			header := "session=" + compactPrefix + base64.RawURLEncoding.EncodeToString(forged)
			_, err := m.decode(context.Background(), []string{header}, m.now())
			require.ErrorIs(t, err, ErrInvalid, "byte %d bit %#x", i, bit)
		}
	}
	_, err = m.decode(context.Background(), []string{"session=" + value}, m.now())
	require.NoError(t, err, "the untampered value still opens")
}

func TestCompactWrongVersionOrNameOrKey(t *testing.T) {
	m, _ := newTestManager(t, Options{Format: FormatCompact})
	value := compactValue(t, m)
	raw, _ := base64.RawURLEncoding.DecodeString(value[1:])

	raw[0] = compactVersion + 1
	_, err := m.decode(context.Background(), []string{"session=~" + base64.RawURLEncoding.EncodeToString(raw)}, m.now())
	assert.ErrorContains(t, err, "unknown compact version 2")

	other, _ := newTestManager(t, Options{Format: FormatCompact, Name: "other"})
	_, err = other.decode(context.Background(), []string{"other=" + value}, other.now())
	assert.ErrorIs(t, err, ErrInvalid, "a value sealed for one name does not open under another")

	foreign, _ := newTestManager(t, Options{Format: FormatCompact, Secrets: [][]byte{testKey(2)}})
	_, err = foreign.decode(context.Background(), []string{"session=" + value}, foreign.now())
	assert.ErrorIs(t, err, ErrInvalid)

	signOnly, _ := newTestManager(t, Options{Format: FormatSignOnly})
	_, err = signOnly.decode(context.Background(), []string{"session=" + value}, signOnly.now())
	assert.ErrorIs(t, err, ErrInvalid, "a sign-only manager does not read encrypted values")
}

func TestCompactKeyHintCollision(t *testing.T) {
	// Find two secrets whose hints collide: with 256 hints this takes a
	// few dozen tries.
	seen := map[byte][]byte{}
	var first, second []byte
	for n := 0; second == nil; n++ {
		k := testKey(n)
		ring, err := newKeyRing([][]byte{k}, minSecretLength)
		require.NoError(t, err)
		if prev, ok := seen[ring[0].hint]; ok {
			first, second = prev, k
		}
		seen[ring[0].hint] = k
	}
	older, _ := newTestManager(t, Options{Format: FormatCompact, Secrets: [][]byte{second}})
	value := compactValue(t, older)

	ring, _ := newTestManager(t, Options{Format: FormatCompact, Secrets: [][]byte{first, second}})
	require.Equal(t, ring.secrets.Load().ring[0].hint, ring.secrets.Load().ring[1].hint)
	d, err := ring.decode(context.Background(), []string{"session=" + value}, ring.now())
	require.NoError(t, err)
	assert.Equal(t, 1, d.keyIndex, "the second key with the same hint opens it")
	user, _ := json.Marshal("ada")
	assert.JSONEq(t, string(user), string(d.env.Values[d.env.find("user")].raw))
}

func TestSwitchingFormatLogsNobodyOut(t *testing.T) {
	for _, tt := range []struct{ from, to Format }{
		{FormatSecureCookie, FormatCompact},
		{FormatCompact, FormatSecureCookie},
	} {
		t.Run(fmt.Sprintf("%v to %v", tt.from, tt.to), func(t *testing.T) {
			before, _ := newTestManager(t, Options{Format: tt.from, Secrets: [][]byte{testKey(1)}})
			b := issue(t, before, func(s *Session) { s.Set("user", 42) })

			after, _ := newTestManager(t, Options{Format: tt.to, Secrets: [][]byte{testKey(2), testKey(1)}})
			resp := b.visit(after, func(_ http.ResponseWriter, s *Session) {
				assert.False(t, s.IsNew())
				v, _ := Value[int](s, "user")
				assert.Equal(t, 42, v)
			})
			require.Len(t, resp.Cookies(), 1, "re-issued in the new format")
			assert.Equal(t, tt.to == FormatCompact, strings.HasPrefix(b["session"].Value, compactPrefix))

			resp = b.visit(after, touch)
			assert.Empty(t, resp.Cookies(), "and then left alone")
		})
	}
}

// TestDefaultFormatIsCompact: v1's default is the compact format, and a
// Manager on defaults reads the cookies of the securecookie format, the
// default before v1.0.0, re-issuing them compact.
func TestDefaultFormatIsCompact(t *testing.T) {
	m, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(1)}})
	b := issue(t, m, func(s *Session) { s.Set("user", 42) })
	assert.True(t, strings.HasPrefix(b["session"].Value, compactPrefix), b["session"].Value)
	in, err := m.Inspect("session=" + b["session"].Value)
	require.NoError(t, err)
	assert.Equal(t, FormatCompact, in.Format)

	old, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(1)}, Format: FormatSecureCookie})
	b = issue(t, old, func(s *Session) { s.Set("user", 42) })
	require.False(t, strings.HasPrefix(b["session"].Value, compactPrefix))
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew())
	})
	assert.True(t, strings.HasPrefix(b["session"].Value, compactPrefix), "re-issued compact")
}

func TestCompression(t *testing.T) {
	typical := strings.Repeat(`{"sku":"BOOK-1234","qty":1,"price":"12.50"},`, 20)
	plainM, _ := newTestManager(t, Options{Format: FormatCompact})
	zipM, _ := newTestManager(t, Options{Format: FormatCompact, Compress: true})

	plain := issue(t, plainM, func(s *Session) { s.Set("cart", typical) })
	zipped := issue(t, zipM, func(s *Session) { s.Set("cart", typical) })
	assert.Less(t, len(zipped["session"].Value), len(plain["session"].Value)/2)

	// Each reads the other's cookies.
	for _, tt := range []struct {
		m *Manager
		b browser
	}{{plainM, zipped}, {zipM, plain}} {
		serve(tt.m, tt.b.header(), func(_ http.ResponseWriter, s *Session) {
			v, _ := Value[string](s, "cart")
			assert.Equal(t, typical, v)
		})
	}

	// Data deflate cannot shrink is stored as it is.
	tiny := []byte(`{"i":"x"}`)
	assert.Equal(t, tiny, compress(tiny))

	// Compression applies to the default format too.
	scZip, _ := newTestManager(t, Options{Compress: true})
	b := issue(t, scZip, func(s *Session) { s.Set("cart", typical) })
	sc, _ := newTestManager(t, Options{})
	serve(sc, b.header(), func(_ http.ResponseWriter, s *Session) {
		v, _ := Value[string](s, "cart")
		assert.Equal(t, typical, v)
	})
}

func TestDecompressionIsBounded(t *testing.T) {
	bomb := compress([]byte(strings.Repeat("a", maxInflated+10)))
	require.Equal(t, byte(compressedMarker), bomb[0])
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decompress(bomb)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(maxInflated*3/2), "inflated into a buffer that stops at the limit")
	_, err = decompress([]byte{compressedMarker, 0xff, 0xfe})
	assert.ErrorIs(t, err, ErrInvalid)

	exact := strings.Repeat("a", maxInflated)
	out, err := decompress(compress([]byte(exact)))
	require.NoError(t, err)
	assert.Equal(t, exact, string(out), "exactly the limit inflates")
}

// TestNeverSealWhatCannotBeRead: a value that deflates into a cookie but
// would inflate past the reader's limit is refused at Save, not written
// and then silently rejected on the next request.
func TestNeverSealWhatCannotBeRead(t *testing.T) {
	m, _ := newTestManager(t, Options{Format: FormatCompact, Compress: true})
	s := m.LoadHeader()
	s.Set("blob", strings.Repeat("x", 2<<20))
	_, err := m.SaveHeader(s)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "compressed sessions hold at most 1048576")

	s = m.LoadHeader()
	s.Set("blob", strings.Repeat("x", maxInflated-100))
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	v, ok := Value[string](m.LoadHeader(strings.SplitN(lines[0], ";", 2)[0]), "blob")
	assert.True(t, ok, "what was written reads back")
	assert.Len(t, v, maxInflated-100)
}

// TestOneCookieStringPerSession: base64 decoders accept several strings
// for the same bytes (unused bits of the last character, line breaks,
// missing or extra padding). Only the string the package wrote opens the
// session.
func TestOneCookieStringPerSession(t *testing.T) {
	for _, f := range []Format{FormatSecureCookie, FormatSignOnly, FormatCompact} {
		t.Run(f.String(), func(t *testing.T) {
			m, _ := newTestManager(t, Options{Format: f})
			var value string
			// Find a value whose last group leaves unused bits to flip.
			for n := 40; ; n++ {
				value = issue(t, m, func(s *Session) { s.Set("a", randomText(n)) })["session"].Value
				data := strings.TrimRight(strings.TrimPrefix(value, compactPrefix), "=")
				if len(data)%4 != 0 {
					break
				}
			}
			_, err := m.Inspect("session=" + value)
			require.NoError(t, err)

			trimmed := strings.TrimRight(value, "=")
			last := strings.IndexByte(base64URL, trimmed[len(trimmed)-1])
			variants := map[string]string{
				"line break":      value[:10] + "\n" + value[10:],
				"carriage return": value[:10] + "\r" + value[10:],
			}
			for bit := 0; bit < 4; bit++ {
				c := base64URL[last^(1<<bit)]
				variant := trimmed[:len(trimmed)-1] + string(c) + value[len(trimmed):]
				if same, ok := sameBytes(value, variant); ok && same {
					variants[fmt.Sprintf("last character bit %d", bit)] = variant
				}
			}
			require.Greater(t, len(variants), 2, "at least one unused bit to flip")
			if trimmed != value {
				variants["padding dropped"] = trimmed
			} else {
				variants["padding added"] = value + "="
			}
			for name, v := range variants {
				_, err := m.Inspect("session=" + v)
				assert.ErrorIs(t, err, ErrInvalid, name)
			}
		})
	}
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// sameBytes reports whether a lenient decoder reads b as the same bytes
// as a.
func sameBytes(a, b string) (same, ok bool) {
	dec := func(s string) ([]byte, error) {
		if strings.HasPrefix(s, compactPrefix) {
			return base64.RawURLEncoding.DecodeString(s[1:])
		}
		return base64.URLEncoding.DecodeString(s)
	}
	x, err1 := dec(a)
	y, err2 := dec(b)
	return string(x) == string(y), err1 == nil && err2 == nil
}

// TestAppendBase64URL holds the hand-written decoder to encoding/base64:
// it accepts exactly the strings the encoder writes, and decodes them to
// the same bytes. Each character of encodings of up to 12 characters is
// replaced in turn by every byte.
func TestAppendBase64URL(t *testing.T) {
	enc := base64.RawURLEncoding
	for n := range 10 {
		s := enc.EncodeToString(randomBytes(n))
		for i := range len(s) + 1 {
			for c := range 256 {
				v := s
				if i < len(s) {
					v = s[:i] + string(byte(c)) + s[i+1:]
				}
				want, err := enc.DecodeString(v)
				canonical := err == nil && enc.EncodeToString(want) == v
				got, ok := appendBase64URL([]byte("dst:"), v)
				require.Equal(t, canonical, ok, "%q", v)
				if ok {
					require.Equal(t, "dst:"+string(want), string(got), "%q", v)
				}
			}
		}
	}
}

// TestOpenSecureCookieAgreesWithSecureCookie: the hand-written decoder of
// the securecookie formats opens what securecookie's Encode writes, with
// any of the ring's keys, and whatever it opens securecookie's own Decode
// opens to the same bytes. Every character of a value is replaced in turn
// by every base64url character and "=": a canonical encoding that changed
// fails the MAC, for both.
func TestOpenSecureCookieAgreesWithSecureCookie(t *testing.T) {
	ring, err := newKeyRing([][]byte{testKey(1), testKey(2), testKey(3)}, minSecretLength)
	require.NoError(t, err)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
	for _, sign := range []bool{false, true} {
		for _, size := range []int{0, 1, 2, 3, 40} {
			plain := []byte(randomText(size))
			for k := range ring {
				sc := ring[k].sealed
				if sign {
					sc = ring[k].signOnly
				}
				value, err := sc.Encode("session", bytes.Clone(plain)) // it encrypts in place
				require.NoError(t, err)
				got, index, err := ring.openSecureCookie("session", value, sign, nil)
				if size == 0 && !sign {
					// An IV alone: securecookie's Decode refuses it too.
					require.ErrorIs(t, err, ErrInvalid)
					require.Error(t, sc.Decode("session", value, new([]byte)))
					continue
				}
				require.NoError(t, err, "sign %v, %d bytes, key %d", sign, size, k)
				assert.Equal(t, string(plain), string(got))
				assert.Equal(t, k, index)
				_, _, err = ring.openSecureCookie("other", value, sign, nil)
				assert.ErrorIs(t, err, ErrInvalid, "the name is bound into the MAC")
				_, _, err = ring.openSecureCookie("session", value, !sign, nil)
				assert.ErrorIs(t, err, ErrInvalid, "each format has its own sub-key")
				if size != 40 || k != 2 {
					continue
				}
				for i := range value {
					for _, c := range []byte(alphabet) {
						v := value[:i] + string(c) + value[i+1:]
						got, _, err := ring.openSecureCookie("session", v, sign, make([]byte, 0, 8))
						if err != nil {
							continue
						}
						var want []byte
						require.NoError(t, sc.Decode("session", v, &want), "%q opens here only", v)
						require.Equal(t, string(want), string(got))
						require.Equal(t, value, v, "only the value itself opens")
					}
				}
			}
		}
	}
}
