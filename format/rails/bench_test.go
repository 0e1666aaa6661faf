package rails_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/rails"
	"github.com/cookiesession/cookiesession/internal/formattest"
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
	m := formattest.New(b, cookiesession.Options{Format: rails.Format{ReadBoth: true}, Name: cookieName},
		testSecret("1"), testSecret("2"), testSecret("3"), testSecret("4"))
	formattest.HostileHeaders(b, m, cookieName, 8, garbage, "")
}
