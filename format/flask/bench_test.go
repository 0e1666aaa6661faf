package flask_test

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	var z bytes.Buffer
	w, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	require.NoError(tb, err)
	_, _ = w.Write([]byte(`{"a":"`))
	_, _ = w.Write(make([]byte, 2<<20))
	require.NoError(tb, w.Close())
	ts := binary.BigEndian.AppendUint32(nil, uint32(time.Now().Unix()))
	signed := "." + base64.RawURLEncoding.EncodeToString(z.Bytes()) + "." + base64.RawURLEncoding.EncodeToString(ts)
	derive := hmac.New(sha1.New, []byte(secret))
	derive.Write([]byte("cookie-session"))
	mac := hmac.New(sha1.New, derive.Sum(nil))
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func hostileManager(tb testing.TB) *cookiesession.Manager {
	m, err := cookiesession.New(cookiesession.Options{
		Format:  flask.Format{},
		Name:    cookieName,
		Secrets: [][]byte{[]byte(testSecret("1")), []byte(testSecret("2")), []byte(testSecret("3")), []byte(testSecret("4"))},
	})
	require.NoError(tb, err)
	return m
}

// TestSignedBombIsBounded: a compressed payload that inflates past 1 MiB is
// refused, having cost at most about twice that much memory.
func TestSignedBombIsBounded(t *testing.T) {
	formattest.BombBounded(t, hostileManager(t), cookieName, signedBomb(t, testSecret("1")))
}

// BenchmarkHostileHeader measures hostile Cookie headers against a
// manager of the Flask format with 4 secrets, beside the reference of
// SECURITY.md's table, 1 MiB of unrelated cookies.
//
//	go test -run '^$' -bench HostileHeader -benchmem ./format/flask
func BenchmarkHostileHeader(b *testing.B) {
	formattest.HostileHeaders(b, hostileManager(b), cookieName, 4, garbage, signedBomb(b, testSecret("1")))
}
