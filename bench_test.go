package cookiesession

import (
	"testing"
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
