// Package benchcycle measures whole request cycles of session
// implementations the same way for all of them: the package's own
// BenchmarkCycle and the comparisons in the benchmarks module. It uses
// only the standard library, so it costs the library's users nothing.
package benchcycle

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TypicalValues is a session of ten values, about 275 bytes of JSON: what
// a logged-in user of a shop carries.
func TypicalValues() map[string]any {
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

// LargeValues is the typical session plus notes, about 2.5 KB of JSON:
// more than one default-format cookie holds.
func LargeValues() map[string]any {
	v := TypicalValues()
	v["notes"] = Filler(2200)
	return v
}

// Filler returns n characters of text that compresses like prose.
func Filler(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "note %d: order %x shipped to %s; ", i, uint32(i)*2654435761, []string{"Leeds", "Oslo", "Lyon"}[i%3])
	}
	return b.String()[:n]
}

// Writer is a reusable http.ResponseWriter that keeps headers and
// discards the body, so benchmarks measure the session work.
type Writer struct{ H http.Header }

func (w *Writer) Header() http.Header         { return w.H }
func (w *Writer) Write(b []byte) (int, error) { return len(b), nil }
func (w *Writer) WriteHeader(int)             {}

// Cycle is one implementation under test: a handler behind the
// implementation's own middleware (or load/save path) that reads
// "cart_count" and sets it to a new value, and the Cookie header of a
// request that carries the session.
type Cycle struct {
	Handler http.Handler
	Cookie  string
}

// New serves h once for a request to "/?init=1", on which h must store
// the session's values, and returns the Cycle with the cookies it set.
func New(b *testing.B, h http.Handler) Cycle {
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
	return Cycle{h, strings.Join(parts, "; ")}
}

// IsInit reports whether r is the request of New that stores the values.
func IsInit(r *http.Request) bool { return r.URL.RawQuery == "init=1" }

// Run measures full request cycles and reports the bytes on the wire: the
// Cookie request header plus the Set-Cookie response headers.
func Run(b *testing.B, c Cycle) {
	base := httptest.NewRequest(http.MethodGet, "/", nil)
	base.Header.Set("Cookie", c.Cookie)
	w := &Writer{H: http.Header{}}
	wire := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.H)
		// A fresh shallow copy per request: gorilla/sessions caches the
		// session in the request's context.
		c.Handler.ServeHTTP(w, base.WithContext(context.Background()))
		wire = len(c.Cookie)
		for _, v := range w.H.Values("Set-Cookie") {
			wire += len(v)
		}
	}
	b.ReportMetric(float64(wire), "wire-B/op")
}

// Header measures one request carrying the Cookie header through h, as the
// package's BenchmarkHostileHeader does, reporting the header's length and
// the Set-Cookie bytes of the answer.
func Header(b *testing.B, h http.Handler, header string) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", header)
	w := &Writer{H: http.Header{}}
	setCookie := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.H)
		h.ServeHTTP(w, req)
		setCookie = 0
		for _, v := range w.H.Values("Set-Cookie") {
			setCookie += len(v)
		}
	}
	b.ReportMetric(float64(len(header)), "header-B")
	b.ReportMetric(float64(setCookie), "set-cookie-B/op")
}
