package django_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/django"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// garbage returns a value of about n bytes shaped as a Django cookie (a
// compressed payload, a timestamp, a signature) that no key signed.
func garbage(n int) string {
	b := make([]byte, (n-60)*3/4)
	_, _ = rand.Read(b)
	return "." + base64.RawURLEncoding.EncodeToString(b) + ":1xacQt:" + base64.RawURLEncoding.EncodeToString(b[:32])
}

// signedBomb returns a value signed with secret, as Django would sign it,
// whose payload inflates to 2 MiB: only a holder of the secret can make
// one, and the reader stops inflating at 1 MiB all the same.
func signedBomb(tb testing.TB, secret string) string {
	signed := "." + base64.RawURLEncoding.EncodeToString(formattest.Bomb(tb)) + ":" + base62(time.Now().Unix())
	key := sha256.Sum256([]byte("django.contrib.sessions.backends.signed_cookies" + "signer" + secret))
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(signed))
	return signed + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func base62(n int64) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var out []byte
	for ; n > 0; n /= 62 {
		out = append([]byte{digits[n%62]}, out...)
	}
	return string(out)
}

func hostileManager(tb testing.TB) *cookiesession.Manager {
	return formattest.New(tb, cookiesession.Options{Format: django.Format{}, Name: cookieName},
		formattest.HexSecret("1"), formattest.HexSecret("2"), formattest.HexSecret("3"), formattest.HexSecret("4"))
}

// TestSignedBombIsBounded: a compressed payload that inflates past 1 MiB is
// refused, having cost at most about twice that much memory.
func TestSignedBombIsBounded(t *testing.T) {
	formattest.BombBounded(t, hostileManager(t), cookieName, signedBomb(t, formattest.HexSecret("1")))
}

// BenchmarkHostileHeader measures hostile Cookie headers against a
// manager of the Django format with 4 secrets, beside the reference of
// SECURITY.md's table, 1 MiB of unrelated cookies.
//
//	go test -run '^$' -bench HostileHeader -benchmem ./format/django
func BenchmarkHostileHeader(b *testing.B) {
	formattest.HostileHeaders(b, hostileManager(b), cookieName, 4, garbage, signedBomb(b, formattest.HexSecret("1")))
}
