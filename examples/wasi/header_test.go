// Package wasi shows the header-level API in WebAssembly runtimes (Fastly
// Compute, Spin, wasmCloud): TestHeaderAPI runs natively and, built with
// GOOS=wasip1 GOARCH=wasm, under wazero (TestUnderWASI).
package wasi

import (
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieHeader turns Set-Cookie values into the Cookie header a browser
// would send next.
func cookieHeader(setCookies []string) string {
	parts := make([]string, 0, len(setCookies))
	for _, line := range setCookies {
		if !strings.Contains(line, "Max-Age=0") {
			parts = append(parts, strings.SplitN(line, ";", 2)[0])
		}
	}
	return strings.Join(parts, "; ")
}

func TestHeaderAPI(t *testing.T) {
	for _, format := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatCompact} {
		t.Run(format.String(), func(t *testing.T) {
			m, err := cookiesession.New(cookiesession.Options{
				Secrets:   [][]byte{[]byte("wasi-example-key-0001-use-GenerateSecret-instead")},
				Format:    format,
				MaxChunks: 3,
			})
			require.NoError(t, err)

			s := m.LoadHeader("theme=dark")
			s.Set("user", "ada")
			s.Set("note", strings.Repeat("n", 5000)) // more than one cookie holds
			set, err := m.SaveHeader(s)
			require.NoError(t, err)
			chunks := len(set)
			require.Greater(t, chunks, 1, "chunked across cookies")

			next := m.LoadHeader(cookieHeader(set))
			assert.False(t, next.IsNew())
			user, _ := cookiesession.Value[string](next, "user")
			assert.Equal(t, "ada", user)
			next.Delete("note")
			set, err = m.SaveHeader(next)
			require.NoError(t, err)
			require.Len(t, set, chunks, "one cookie rewritten, the stale chunks deleted")
			assert.NotContains(t, set[0], "Max-Age=0")
			for _, line := range set[1:] {
				assert.Contains(t, line, "Max-Age=0")
			}

			tampered := m.LoadHeader(strings.Replace(cookieHeader(set[:1]), "=", "=x", 1))
			assert.True(t, tampered.IsNew())
		})
	}
}
