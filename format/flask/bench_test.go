package flask_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/flask"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// garbage returns a value of about n bytes shaped as a Flask cookie (a
// compressed payload, a timestamp, a signature) that no key signed.
func garbage(n int) string {
	b := make([]byte, (n-40)*3/4)
	_, _ = rand.Read(b)
	return "." + base64.RawURLEncoding.EncodeToString(b) + ".axbrug." + base64.RawURLEncoding.EncodeToString(b[:20])
}

// signedBomb returns a value signed with secret, as itsdangerous would
// sign it, whose payload inflates to 2 MiB: only a holder of the secret
// can make one, and the reader stops inflating at 1 MiB all the same.
func signedBomb(tb testing.TB, secret string) string {
	ts := binary.BigEndian.AppendUint32(nil, uint32(time.Now().Unix()))
	signed := "." + base64.RawURLEncoding.EncodeToString(formattest.Bomb(tb)) + "." + base64.RawURLEncoding.EncodeToString(ts)
	derive := hmac.New(sha1.New, []byte(secret))
	derive.Write([]byte("cookie-session"))
	mac := hmac.New(sha1.New, derive.Sum(nil))
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func hostileManager(tb testing.TB) *cookiesession.Manager {
	return formattest.New(tb, cookiesession.Options{Format: flask.Format{}, Name: cookieName},
		formattest.HexSecret("1"), formattest.HexSecret("2"), formattest.HexSecret("3"), formattest.HexSecret("4"))
}

// TestSignedBombIsBounded: a compressed payload that inflates past 1 MiB is
// refused, having cost at most about twice that much memory.
func TestSignedBombIsBounded(t *testing.T) {
	formattest.BombBounded(t, hostileManager(t), cookieName, signedBomb(t, formattest.HexSecret("1")))
}

// BenchmarkHostileHeader measures hostile Cookie headers against a
// manager of the Flask format with 4 secrets, beside the reference of
// SECURITY.md's table, 1 MiB of unrelated cookies.
//
//	go test -run '^$' -bench HostileHeader -benchmem ./format/flask
func BenchmarkHostileHeader(b *testing.B) {
	formattest.HostileHeaders(b, hostileManager(b), cookieName, 4, garbage, signedBomb(b, formattest.HexSecret("1")))
}
