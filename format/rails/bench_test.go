package rails_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/rails"
	"github.com/cookiesession/cookiesession/internal/benchcycle"
)

// garbage returns a value of about n bytes shaped as a Rails cookie
// (ciphertext, IV and tag in base64, URL-escaped) that opens under no key:
// every key has to try it.
func garbage(n int) string {
	b64 := func(k int) string {
		b := make([]byte, k)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	// URL-escaping base64 adds about 6%.
	return url.QueryEscape(b64(n*3/4*94/100-40) + "--" + b64(12) + "--" + b64(16))
}

// BenchmarkHostileHeader measures hostile Cookie headers against a
// manager of the Rails format with 4 secrets and SHA1 read too (8 keys),
// beside the reference of SECURITY.md's table, 1 MiB of unrelated cookies.
//
//	go test -run '^$' -bench HostileHeader -benchmem ./format/rails
func BenchmarkHostileHeader(b *testing.B) {
	m, err := cookiesession.New(cookiesession.Options{
		Format:  rails.Format{ReadBoth: true},
		Name:    cookieName,
		Secrets: [][]byte{[]byte(testSecret("1")), []byte(testSecret("2")), []byte(testSecret("3")), []byte(testSecret("4"))},
	})
	require.NoError(b, err)
	h := m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		m.FromContext(r.Context()).IsNew()
	}))
	var distinct strings.Builder
	for distinct.Len() < 1<<20 {
		distinct.WriteString(cookieName + "=" + garbage(4000) + "; ")
	}
	for _, c := range []struct{ name, header string }{
		{"unrelated-1MiB", strings.Repeat("x=y; ", (1<<20)/5)},
		{"garbage-4KB-8-keys", cookieName + "=" + garbage(4000)},
		{"distinct-4KB-values-1MiB-8-keys", distinct.String()},
	} {
		b.Run(c.name, func(b *testing.B) { benchcycle.Header(b, h, c.header) })
	}
}
