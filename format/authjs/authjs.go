// Package authjs reads and writes the session cookies of Auth.js (v5,
// the npm package @auth/core under NextAuth.js 5 and the other Auth.js
// integrations) and of NextAuth.js 4 (next-auth), in their "jwt" session
// strategy, so that a Go service and a Next.js application share one login
// while routes move from one to the other:
//
//	m, err := cookiesession.New(cookiesession.Options{
//		Format:    authjs.Format{},
//		Name:      "__Secure-authjs.session-token", // "authjs.session-token" over http
//		Secrets:   [][]byte{[]byte(authSecret)},     // AUTH_SECRET, newest first
//		MaxAge:    30 * 24 * time.Hour,              // session.maxAge
//		MaxChunks: 4,
//	})
//
// The cookie holds an encrypted JWT (JWE compact serialisation, "dir" key
// management). Auth.js v5 encrypts with A256CBC-HS512 under a 64-byte key
// derived by HKDF-SHA256 from the secret, with the cookie name as salt and
// "Auth.js Generated Encryption Key (<cookie name>)" as info; its header
// names the key by its JWK thumbprint ("kid"), which picks the secret of a
// list. It also reads A256GCM, with the first 32 bytes of that key.
// next-auth v4 (NextAuth4) uses A256GCM under a 32-byte key derived with
// an empty salt and the info "NextAuth.js Generated Encryption Key", and
// no kid. So a next-auth v4 token is not bound to the cookie name: any
// token next-auth's encode made with the same secret (a JWT the
// application issues for another purpose, or a session cookie of another
// name) opens as a session. Give the session a secret used for nothing
// else. Auth.js v5 tokens are bound to the name through the salt.
//
// The header is read with JOSE's exact, case-sensitive member names; a
// case variant of alg, enc, kid, zip or crit, a zip or a crit member is
// refused.
//
// # Claims
//
// The token's claims map to the session: "exp" to its expiry, "iat" to its
// creation time, "jti" to its ID and "sub" to its subject (Session.Subject,
// the user's ID). Every other claim ("name", "email", "picture", and those
// the application's jwt callback adds) is a value, read with Session.Get
// and written back as it is. The Go side writes "iat", "exp" and "jti" from
// the session, so they stay as they were until it is renewed; Auth.js
// gives each token it issues a new "iat", "exp" and "jti". The ID, and so
// Manager.RevokeSession, therefore holds only until the Node application
// next re-issues the token (Auth.js does when the session endpoint is
// polled, at most once per session.updateAge); NotBefore and the
// revocations by subject compare "iat", and hold on the Go side only.
// Flash messages cannot be stored, and IdleTimeout is refused. A value set
// under one of the four mapped names fails the save: set them with
// SetMaxAge, Renew and SetSubject.
//
// Auth.js accepts a token up to 15 seconds past its expiry (clock
// tolerance); this format refuses it from its expiry on.
//
// # Secrets
//
// Give Auth.js's secrets (AUTH_SECRET, or the list of its secret option)
// newest first. Each must be at least 32 bytes and not plainly patterned:
// the key is derived without stretching, so anyone who guesses the secret
// forges any user's session. Auth.js itself takes any string; `npx auth
// secret` and `openssl rand -base64 32` make secrets that pass. An
// application with a weaker secret can move to a strong one without
// logging anyone out: give Auth.js the list [new, old] first.
//
// next-auth v4 takes one secret; a list here lets the Go side read tokens
// of a previous NEXTAUTH_SECRET and re-issue them with the first.
//
// # Chunks
//
// Both split a token over 3,936 characters into NAME.0, NAME.1, …, and
// join every such cookie in order: set Options.MaxChunks to the most the
// application's sessions need (4 covers 15 KB), so that this format reads
// and writes the same layout.
package authjs

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// Format is Auth.js v5's session cookie (@auth/core). Its zero value is
// ready to use.
type Format struct{}

// NextAuth4 is next-auth v4's session cookie. Its zero value is ready to
// use.
type NextAuth4 struct{}

// String returns "Auth.js".
func (Format) String() string { return "Auth.js" }

// String returns "next-auth v4".
func (NextAuth4) String() string { return "next-auth v4" }

// Traits reports what Auth.js's tokens lack and how it names chunks.
func (Format) Traits() cookiesession.Traits { return traits }

// Traits reports what next-auth's tokens lack and how it names chunks.
func (NextAuth4) Traits() cookiesession.Traits { return traits }

var traits = cookiesession.Traits{
	Lacks:  cookiesession.LacksLastSeen | cookiesession.LacksFlashes,
	Chunks: cookiesession.ChunksIndexed,
}

// The JWE content encryption algorithms.
const (
	cbc = "A256CBC-HS512"
	gcm = "A256GCM"
)

const (
	minSecret = 32
	cbcKey    = 64 // A256CBC-HS512: 32 bytes of HMAC-SHA-512 key, then 32 of AES-256
)

// key is one secret's keys.
type key struct {
	cbc, gcm       []byte // gcm is cbc's first 32 bytes (v5) or v4's own key
	kidCBC, kidGCM string // JWK thumbprints (RFC 7638) of each
	gcmAEAD        cipher.AEAD
}

type sealer struct {
	v4   bool
	keys []key // as Options.Secrets: the first seals
}

// NewSealer derives the keys of each secret for the cookie name.
func (Format) NewSealer(secrets [][]byte, cookieName string) (cookiesession.Sealer, error) {
	return newSealer(secrets, cookieName, false)
}

// NewSealer derives the key of each secret.
func (NextAuth4) NewSealer(secrets [][]byte, _ string) (cookiesession.Sealer, error) {
	return newSealer(secrets, "", true)
}

func newSealer(secrets [][]byte, salt string, v4 bool) (*sealer, error) {
	s := &sealer{v4: v4, keys: make([]key, len(secrets))}
	for i, secret := range secrets {
		if err := cookiesession.CheckSecret(secret, minSecret); err != nil {
			return nil, fmt.Errorf("%w (Auth.js secret %d)", err, i)
		}
		var k key
		var err error
		if v4 {
			k.gcm, err = hkdf.Key(sha256.New, secret, nil, "NextAuth.js Generated Encryption Key", 32)
		} else {
			k.cbc, err = hkdf.Key(sha256.New, secret, []byte(salt), "Auth.js Generated Encryption Key ("+salt+")", cbcKey)
			k.gcm = k.cbc[:32] // HKDF's first 32 bytes of the same info: what a 32-byte derivation gives
			k.kidCBC, k.kidGCM = thumbprint(k.cbc), thumbprint(k.gcm)
		}
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(k.gcm)
		if err != nil {
			return nil, err
		}
		if k.gcmAEAD, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		s.keys[i] = k
	}
	return s, nil
}

// thumbprint returns the JWK thumbprint of a symmetric key as Auth.js
// computes it: SHA-256 for 32 bytes, SHA-512 for 64.
func thumbprint(k []byte) string {
	jwk := []byte(`{"k":"` + b64.EncodeToString(k) + `","kty":"oct"}`)
	if len(k) == cbcKey {
		sum := sha512.Sum512(jwk)
		return b64.EncodeToString(sum[:])
	}
	sum := sha256.Sum256(jwk)
	return b64.EncodeToString(sum[:])
}

var b64 = base64.RawURLEncoding.Strict()

// The claims this format maps; every other claim is a value.
var mapped = map[string]bool{"exp": true, "iat": true, "jti": true, "sub": true}

// Seal encrypts r as the token Auth.js (or next-auth v4) would issue.
func (s *sealer) Seal(r *cookiesession.Record, _ time.Time) (string, error) {
	claims := make([]cookiesession.Field, 0, len(r.Values)+4)
	for _, f := range r.Values {
		if mapped[f.Name] {
			return "", fmt.Errorf("the claim %q is the session's own (expiry, creation, ID or subject), not a value to set", f.Name)
		}
		claims = append(claims, f)
	}
	if r.Subject != "" {
		claims = append(claims, cookiesession.Field{Name: "sub", JSON: quote(r.Subject)})
	}
	claims = append(claims,
		cookiesession.Field{Name: "iat", JSON: strconv.FormatInt(r.Created.Unix(), 10)},
		cookiesession.Field{Name: "exp", JSON: strconv.FormatInt(r.Expires.Unix(), 10)})
	if r.ID != "" {
		claims = append(claims, cookiesession.Field{Name: "jti", JSON: quote(r.ID)})
	}
	plain := cookiesession.AppendObject(nil, claims)
	k := s.keys[0]
	if s.v4 {
		header := b64.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM"}`))
		iv := random(k.gcmAEAD.NonceSize())
		sealed := k.gcmAEAD.Seal(nil, iv, plain, []byte(header))
		ct, tag := sealed[:len(plain)], sealed[len(plain):]
		return compact(header, iv, ct, tag), nil
	}
	header := b64.EncodeToString([]byte(`{"alg":"dir","enc":"A256CBC-HS512","kid":"` + k.kidCBC + `"}`))
	iv := random(aes.BlockSize)
	block, err := aes.NewCipher(k.cbc[32:])
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	ct := append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	return compact(header, iv, ct, cbcTag(k.cbc[:32], header, iv, ct)), nil
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func compact(header string, iv, ct, tag []byte) string {
	return header + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(tag)
}

// cbcTag is A256CBC-HS512's authentication tag (RFC 7518, 5.2.2.1): the
// first half of HMAC-SHA-512 over the AAD (the encoded header), the IV,
// the ciphertext and the AAD's length in bits.
func cbcTag(macKey []byte, aad string, iv, ct []byte) []byte {
	mac := hmac.New(sha512.New, macKey)
	mac.Write([]byte(aad))
	mac.Write(iv)
	mac.Write(ct)
	var al [8]byte
	binary.BigEndian.PutUint64(al[:], uint64(len(aad))*8)
	mac.Write(al[:])
	return mac.Sum(nil)[:32]
}

var (
	errNotJWE    = fmt.Errorf("%w: not an Auth.js token (JWE with dir key management)", cookiesession.ErrInvalid)
	errHeader    = fmt.Errorf("%w: Auth.js token header not supported", cookiesession.ErrInvalid)
	errNoKey     = fmt.Errorf("%w: Auth.js token made with a secret not configured (kid)", cookiesession.ErrInvalid)
	errDecrypt   = fmt.Errorf("%w: Auth.js token not verified (another secret, or a changed byte)", cookiesession.ErrInvalid)
	errClaims    = fmt.Errorf("%w: Auth.js token claims of the wrong type", cookiesession.ErrInvalid)
	errNotBefore = fmt.Errorf("%w: Auth.js token not valid yet (nbf)", cookiesession.ErrInvalid)
)

// Open decrypts a token and maps its claims. Its work is linear in the
// value's length: one decoding of each part, one MAC or GCM pass per
// secret tried (one, with a kid).
func (s *sealer) Open(value string, now time.Time) (cookiesession.Record, int, error) {
	if strings.Count(value, ".") != 4 {
		return cookiesession.Record{}, 0, errNotJWE
	}
	parts := strings.SplitN(value, ".", 5)
	headerText, encKey := parts[0], parts[1]
	iv, err1 := b64.DecodeString(parts[2])
	// The ciphertext and the tag, decoded into one buffer: GCM opens them
	// as one, and CBC decrypts the ciphertext where it lies.
	sealed, err2 := b64.AppendDecode(make([]byte, 0, b64.DecodedLen(len(parts[3]))+b64.DecodedLen(len(parts[4]))), []byte(parts[3]))
	n := len(sealed)
	sealed, err3 := b64.AppendDecode(sealed, []byte(parts[4]))
	headerJSON, err4 := b64.DecodeString(headerText)
	if encKey != "" || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return cookiesession.Record{}, 0, errNotJWE
	}
	header, err := parseHeader(headerJSON)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	if header.alg != "dir" || header.enc != gcm && (s.v4 || header.enc != cbc) {
		return cookiesession.Record{}, 0, errHeader
	}
	plain, index, err := s.decrypt(header.enc, header.kid, headerText, iv, sealed[:n], sealed[n:])
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	r, err := claims(plain, now)
	return r, index, err
}

// jweHeader is what Open reads of a token's protected header.
type jweHeader struct {
	alg, enc string
	kid      *string
}

// parseHeader reads a token's protected header with JOSE's member names,
// which are case-sensitive (RFC 7515, section 4). encoding/json would
// match "ALG" to alg and let the last of several variants win, so the
// members are read one by one: a case variant of a member read here, zip
// (Auth.js never compresses) and crit (no extension is understood) are
// refused; other members are ignored, as RFC 7516 allows.
func parseHeader(data []byte) (jweHeader, error) {
	members, err := cookiesession.ParseObject(data)
	if err != nil {
		return jweHeader{}, errNotJWE
	}
	var h jweHeader
	for _, m := range members {
		var dst *string
		switch m.Name {
		case "alg":
			dst = &h.alg
		case "enc":
			dst = &h.enc
		case "kid":
			h.kid = new(string)
			dst = h.kid
		default:
			for _, known := range [...]string{"alg", "enc", "kid", "zip", "crit"} {
				if strings.EqualFold(m.Name, known) {
					return jweHeader{}, errHeader
				}
			}
			continue
		}
		if json.Unmarshal([]byte(m.JSON), dst) != nil {
			return jweHeader{}, errNotJWE
		}
	}
	return h, nil
}

// decrypt finds the key as Auth.js does: by kid when the header has one,
// else the first secret (v5) or each in turn (v4, whose secret is one).
// ct and tag lie in one array, tag right after ct.
func (s *sealer) decrypt(enc string, kid *string, aad string, iv, ct, tag []byte) ([]byte, int, error) {
	var spare []byte
	for i, k := range s.keys {
		switch {
		case s.v4:
		case kid == nil && i > 0:
			return nil, 0, errDecrypt
		case kid != nil && *kid != map[string]string{cbc: k.kidCBC, gcm: k.kidGCM}[enc]:
			continue
		}
		if enc == gcm {
			if len(iv) != k.gcmAEAD.NonceSize() || len(tag) != k.gcmAEAD.Overhead() {
				return nil, 0, errDecrypt
			}
			// A failed Open clears what it wrote, so each key opens into
			// the one spare buffer, sparing the ciphertext for the next.
			if spare == nil {
				spare = make([]byte, len(ct))
			}
			plain, err := k.gcmAEAD.Open(spare[:0], iv, ct[:len(ct)+len(tag)], []byte(aad))
			if err == nil {
				return plain, i, nil
			}
			if !s.v4 {
				return nil, 0, errDecrypt
			}
			continue
		}
		if len(iv) != aes.BlockSize || len(ct) == 0 || len(ct)%aes.BlockSize != 0 || !hmac.Equal(cbcTag(k.cbc[:32], aad, iv, ct), tag) {
			return nil, 0, errDecrypt
		}
		block, err := aes.NewCipher(k.cbc[32:])
		if err != nil {
			return nil, 0, err
		}
		plain := ct
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
		pad := int(plain[len(plain)-1])
		if pad == 0 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
			return nil, 0, errDecrypt
		}
		return plain[:len(plain)-pad], i, nil
	}
	if kid != nil && !s.v4 {
		return nil, 0, errNoKey
	}
	return nil, 0, errDecrypt
}

// claims maps the token's claims to a Record.
func claims(plain []byte, now time.Time) (cookiesession.Record, error) {
	fields, err := cookiesession.ParseObject(plain)
	if err != nil {
		return cookiesession.Record{}, err
	}
	var r cookiesession.Record
	for _, f := range fields {
		var ok bool
		switch f.Name {
		case "exp":
			r.Expires, ok = numericDate(f.JSON)
		case "iat":
			r.Created, ok = numericDate(f.JSON)
		case "jti":
			ok = json.Unmarshal([]byte(f.JSON), &r.ID) == nil
		case "sub":
			ok = json.Unmarshal([]byte(f.JSON), &r.Subject) == nil
		case "nbf":
			var nbf time.Time
			if nbf, ok = numericDate(f.JSON); ok && now.Before(nbf) {
				return cookiesession.Record{}, errNotBefore
			}
			r.Values = append(r.Values, f)
		default:
			r.Values, ok = append(r.Values, f), true
		}
		if !ok {
			return cookiesession.Record{}, errClaims
		}
	}
	return r, nil
}

// numericDate reads a JWT NumericDate: seconds since the epoch, a JSON
// number.
func numericDate(raw string) (time.Time, bool) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f < 0 || f > math.MaxInt32*16 || raw[0] == '"' {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
