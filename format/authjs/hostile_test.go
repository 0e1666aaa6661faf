package authjs_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/authjs"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// forgedToken is the costliest value to refuse: the largest that sixteen
// chunks hold, shaped as a token with the given header, so that the reader
// decodes every part and runs the MAC (or GCM) over all of it.
func forgedToken(header string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "..AAAAAAAAAAAAAAAAAAAAAA." + strings.Repeat("A", 16*3900-600) + "." + strings.Repeat("A", 43)
}

func hostileManager(tb testing.TB, format cookiesession.Format) (*cookiesession.Manager, []byte) {
	var secrets [][]byte
	for i := range 4 {
		secrets = append(secrets, []byte(fmt.Sprintf("secret-%d-q8Vb2Yt0nJm7rQ4xW1sZp9kL3dF6hG5cA0eR", i)))
	}
	m, err := cookiesession.New(cookiesession.Options{Format: format, Name: "s", Secrets: secrets, MaxChunks: 16})
	require.NoError(tb, err)
	return m, secrets[3]
}

// kidOf returns the kid Auth.js writes for secret under the cookie name s.
func kidOf(tb testing.TB, secret []byte) string {
	sealer, err := authjs.Format{}.NewSealer([][]byte{secret}, "s")
	require.NoError(tb, err)
	token, err := sealer.Seal(&cookiesession.Record{ID: "x", Created: time.Now(), Expires: time.Now().Add(time.Hour)}, time.Now())
	require.NoError(tb, err)
	head, _, _ := strings.Cut(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	_, kid, _ := strings.Cut(string(raw), `"kid":"`)
	return strings.TrimSuffix(kid, `"}`)
}

// BenchmarkHostile measures a forged 16-chunk token (61 KiB) against four
// secrets: Auth.js's with the kid of the last secret (one HMAC-SHA-512),
// next-auth v4's without (four GCM passes). Compare with the package's
// own formats in SECURITY.md ("a forged 16-chunk session").
func BenchmarkHostile(b *testing.B) {
	for _, tc := range []struct {
		format cookiesession.Format
		header func(last []byte) string
	}{
		{authjs.Format{}, func(last []byte) string {
			return `{"alg":"dir","enc":"A256CBC-HS512","kid":"` + kidOf(b, last) + `"}`
		}},
		{authjs.NextAuth4{}, func([]byte) string { return `{"alg":"dir","enc":"A256GCM"}` }},
	} {
		b.Run(tc.format.String(), func(b *testing.B) {
			m, last := hostileManager(b, tc.format)
			header := formattest.Chunked("s", forgedToken(tc.header(last)))
			formattest.HostileLoad(b, m, header)
		})
	}
}

// FuzzOpen: nothing opens but a session this format sealed, and no value
// panics, for both versions. The seeds are sealed afresh in each fuzzing
// process, with random IVs, so what is compared is the session each holds.
func FuzzOpen(f *testing.F) {
	secrets := [][]byte{[]byte(secretNew), []byte(secretOld)}
	v5, err := authjs.Format{}.NewSealer(secrets, v5Cookie)
	require.NoError(f, err)
	v4, err := authjs.NextAuth4{}.NewSealer(secrets, v4Cookie)
	require.NoError(f, err)
	sealed := map[string]bool{}
	for _, v := range []string{`{}`, `{"email":"a@example.com","n":[1,{"x":null}]}`, `{"nbf":1}`} {
		values, err := cookiesession.ParseObject([]byte(v))
		require.NoError(f, err)
		r := cookiesession.Record{ID: "id", Subject: "sub", Values: values, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
		for _, s := range []cookiesession.Sealer{v5, v4} {
			token, err := s.Seal(&r, time.Now())
			require.NoError(f, err)
			sealed[string(cookiesession.AppendObject(nil, values))] = true
			f.Add(token)
		}
	}
	f.Add(forgedToken(`{"alg":"dir","enc":"A256GCM"}`)[:200])
	f.Add("e30....")
	f.Fuzz(func(t *testing.T, value string) {
		for _, s := range []cookiesession.Sealer{v5, v4} {
			formattest.OpensOnlySealed(t, s, sealed, value, time.Now())
		}
	})
}

// TestHostileCost holds the forged tokens, alone and with a second value
// of their last chunk (two ways to join), to the bounds SECURITY.md states
// for every request: at most 100 allocations and 512 KiB.
func TestHostileCost(t *testing.T) {
	v5, last := hostileManager(t, authjs.Format{})
	v4, _ := hostileManager(t, authjs.NextAuth4{})
	cbc := formattest.Chunked("s", forgedToken(`{"alg":"dir","enc":"A256CBC-HS512","kid":"`+kidOf(t, last)+`"}`))
	gcm := formattest.Chunked("s", forgedToken(`{"alg":"dir","enc":"A256GCM"}`))
	for name, tc := range map[string]struct {
		m      *cookiesession.Manager
		header string
	}{
		"Auth.js, kid of the last secret":             {v5, cbc},
		"Auth.js, two last chunks":                    {v5, cbc + "; s.15=" + strings.Repeat("B", 3000)},
		"Auth.js, A256GCM":                            {v5, gcm},
		"next-auth v4, four secrets to try":           {v4, gcm},
		"next-auth v4, four secrets, two last chunks": {v4, gcm + "; s.15=" + strings.Repeat("B", 3000)},
	} {
		t.Run(name, func(t *testing.T) { formattest.Bounded(t, tc.m, tc.header) })
	}
}

// TestHeaderMemberNames: the token header is read with JOSE's exact,
// case-sensitive member names. A member that differs from alg, enc, kid,
// zip or crit only in case is refused, not taken for it, so
// {"alg":"RSA-OAEP","ALG":"dir"} is not a dir token.
func TestHeaderMemberNames(t *testing.T) {
	key, err := hkdf.Key(sha256.New, []byte(secretOne), []byte(v5Cookie), "Auth.js Generated Encryption Key ("+v5Cookie+")", 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	token := func(header string) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(header))
		iv := make([]byte, aead.NonceSize())
		plain := []byte(`{"sub":"u1","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`)
		sealed := aead.Seal(nil, iv, plain, []byte(h))
		n := len(plain)
		enc := base64.RawURLEncoding.EncodeToString
		return h + ".." + enc(iv) + "." + enc(sealed[:n]) + "." + enc(sealed[n:])
	}
	sealer, err := authjs.Format{}.NewSealer([][]byte{[]byte(secretOne)}, v5Cookie)
	require.NoError(t, err)

	r, _, err := sealer.Open(token(`{"alg":"dir","enc":"A256GCM","typ":"JWT"}`), time.Now())
	require.NoError(t, err, "the exact names open: the key above is Auth.js's")
	assert.Equal(t, "u1", r.Subject)

	for _, header := range []string{
		`{"ALG":"dir","Enc":"A256GCM"}`,
		`{"alg":"RSA-OAEP","ALG":"dir","enc":"A256GCM"}`,
		`{"alg":"dir","enc":"A256GCM","ENC":"A128GCM"}`,
		`{"alg":"dir","enc":"A256GCM","Kid":"x"}`,
		`{"alg":"dir","enc":"A256GCM","Crit":["exp"]}`,
		`{"alg":"dir","enc":"A256GCM","ZIP":"DEF"}`,
		`{"alg":"dir","enc":"A256GCM","crit":["exp"]}`,
		`{"alg":"dir","enc":"A256GCM","kid":1}`,
	} {
		_, _, err := sealer.Open(token(header), time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid, header)
	}
}
