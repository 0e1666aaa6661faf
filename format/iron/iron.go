// Package iron reads and writes the session cookies of iron-session, the
// session library of many Next.js and Node applications, so that a Go
// service and such an application share one login while routes move from
// one to the other. Use it as a cookiesession.Format:
//
//	m, err := cookiesession.New(cookiesession.Options{
//		Format:  iron.Format{},
//		Name:    "myapp_session",           // iron-session's cookieName
//		Secrets: [][]byte{[]byte(password)}, // iron-session's password
//		MaxAge:  14 * 24 * time.Hour,       // iron-session's ttl
//	})
//
// The cookie holds an iron seal (the format of @hapi/iron and
// iron-webcrypto) with iron-session's version suffix:
//
//	Fe26.2*<id>*<salt>*<iv>*<ciphertext>*<expiry ms>*<salt>*<mac>~2
//
// The session object is encrypted with AES-256-CBC and authenticated with
// HMAC-SHA256 over the first six parts, each key derived from the password
// by PBKDF2-HMAC-SHA1 with one iteration and a fresh random salt. Its
// top-level keys are the session's values, readable with Session.Get and
// written back as they are.
//
// # Passwords
//
// Each secret is an iron-session password, at least 32 characters long
// (iron-session's own rule, counted as JavaScript counts), optionally
// preceded by its id and a colon, as in iron-session's password map:
// {2: "new…", 1: "old…"} is Secrets "2:new…", "1:old…". A password without
// an id has id 1, as iron-session gives a single password. The first
// secret seals, as always in this package, and every secret opens the
// seals made with its id; iron-session seals with the highest id. So a
// new password can be rolled out without logging anyone out: give the Go
// side "1:old…", "2:new…" (it reads seals of both, and seals with the old),
// then iron-session {2: "new…", 1: "old…"}, then the Go side "2:new…",
// "1:old…". A password that itself begins with digits and a colon must be
// given with its id.
//
// One PBKDF2 iteration means the key derivation adds nothing against
// guessing: anyone who has one cookie can test candidate passwords offline
// at the speed of SHA-1, billions a second on one GPU, and a password
// found forges sessions for every user. A password someone chose or could
// guess (a phrase, a word with digits) is therefore as good as public,
// whatever its length; use 32 or more random characters, such as the
// output of `cookiesession secret` or `openssl rand -base64 32`. NewSealer
// refuses a plainly patterned password (fewer than 8 different bytes, or
// a repeated pattern) with cookiesession.ErrWeakSecret, as the package
// refuses such secrets for its own formats.
//
// # Lifetime
//
// iron-session seals an expiry (now plus its ttl, 14 days by default) and
// sets the cookie's Max-Age 60 seconds shorter, since iron accepts a seal
// up to 60 seconds past its expiry to allow for clock skew. This format
// does the same with Options.MaxAge as the ttl, so set MaxAge to the
// application's ttl. It is stricter on reading: a seal is refused from its
// expiry on, without the 60 seconds. A seal without an expiry (ttl 0)
// lives Options.MaxAge from each read, unless revocation is configured
// (below).
//
// # What the Manager derives, and what does not apply
//
// iron-session keeps no session ID, creation time, subject or flash
// messages. Session.ID returns "", so Manager.RevokeSession has nothing to
// list; Session.SetSubject and AddFlash fail the save; IdleTimeout is
// refused. The creation time is taken as the expiry less Options.MaxAge:
// the last time either side sealed the session, when both use the same
// lifetime. Options.NotBefore and Manager.RevokeAll compare that time, and
// hold only on the Go side: the Node application does not consult them,
// and each time it saves the session the time moves on. So with NotBefore
// or Options.Revocations set, New requires MaxAge to be set: the default
// (a day, against iron-session's 14) would make every session look
// sealed just now, and a revocation would end none. A seal without an
// expiry (ttl 0) carries no time at all; while NotBefore or Revocations is
// set it is refused (a new session, counted and logged as revoked),
// because a kill switch that silently spares some sessions is worse than
// none: give iron-session a ttl.
//
// # Seals are not bound to the cookie name
//
// An iron seal carries no cookie name: any seal made with the same
// password opens as a session, such as a token from iron-session's
// sealData (a password-reset or magic link) or a seal of another cookie
// sharing the password. Give the session its own password, used for
// nothing else.
//
// # Chunks
//
// iron-session 9 splits a cookie over 4096 bytes into NAME.0, NAME.1, …
// (at most 4) when given chunk: true; this format writes and reads that
// layout with Options.MaxChunks above 1 (at most 4). iron-session 8 never
// splits: keep MaxChunks at 1 for it. iron-session 8 also needs the "~2"
// suffix, which this format always writes; without it, 8 reads a session
// as empty. iron-session 9 reads seals with or without it, and so does
// this format; any other suffix is refused.
package iron

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cookiesession/cookiesession"
)

// Format is iron-session's cookie format. Its zero value is ready to use.
type Format struct{}

// Parameters of iron-session's seals, as iron-webcrypto's defaults and
// iron-session's constants set them.
const (
	prefix        = "Fe26.2"
	suffix        = "~2" // iron-session's seal version, outside the MAC
	saltBytes     = 32   // 256 bits, written as 64 hex characters
	keyBytes      = 32   // AES-256 and the HMAC key alike
	iterations    = 1
	minPassword   = 32 // characters
	clockSkew     = 60 * time.Second
	maxChunks     = 4 // iron-session 9's MAX_CHUNKS
	maxExpiryLen  = 15
	defaultID     = "1" // the id iron-session gives a single password
	maxPasswordID = 9   // digits
)

// String returns "iron-session".
func (Format) String() string { return "iron-session" }

// Traits reports what iron-session's cookies lack and how it names chunks.
func (Format) Traits() cookiesession.Traits {
	return cookiesession.Traits{
		Lacks: cookiesession.LacksID | cookiesession.LacksCreated | cookiesession.LacksLastSeen |
			cookiesession.LacksSubject | cookiesession.LacksFlashes,
		Chunks:       cookiesession.ChunksIndexed,
		CookieMargin: clockSkew,
		MaxChunks:    maxChunks,
	}
}

type password struct {
	id     string
	secret []byte
}

type sealer struct {
	passwords []password // as Options.Secrets: the first seals
}

// NewSealer reads the passwords with their ids and checks them as
// iron-session does.
func (Format) NewSealer(secrets [][]byte, _ string) (cookiesession.Sealer, error) {
	s := &sealer{passwords: make([]password, len(secrets))}
	for i, secret := range secrets {
		p := password{id: defaultID, secret: secret}
		if id, rest, ok := bytes.Cut(secret, []byte(":")); ok && isID(id) {
			p = password{id: string(id), secret: rest}
		}
		if n := jsLength(p.secret); n < minPassword {
			return nil, fmt.Errorf("%w: iron-session password %d is %d characters, need at least %d", cookiesession.ErrWeakSecret, i, n, minPassword)
		}
		// The length is counted in characters above; the pattern rule
		// matters most here, where one PBKDF2 iteration lets a guessable
		// password be found offline.
		if err := cookiesession.CheckSecret(p.secret, 0); err != nil {
			return nil, fmt.Errorf("%w (iron-session password %d, id %s)", err, i, p.id)
		}
		for _, q := range s.passwords[:i] {
			if q.id == p.id {
				return nil, fmt.Errorf("cookiesession: iron-session passwords %d and another share the id %s", i, p.id)
			}
		}
		s.passwords[i] = p
	}
	return s, nil
}

// isID reports whether b is an id as iron-session writes one: a
// non-negative integer in canonical decimal.
func isID(b []byte) bool {
	if len(b) == 0 || len(b) > maxPasswordID || len(b) > 1 && b[0] == '0' {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsLength counts s as JavaScript's String length does: UTF-16 code
// units, two for a character beyond the Basic Multilingual Plane.
func jsLength(s []byte) int {
	n := 0
	for _, r := range string(s) {
		if r > 0xffff {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func derive(secret []byte, salt string) []byte {
	k, err := pbkdf2.Key(sha1.New, string(secret), []byte(salt), iterations, keyBytes)
	if err != nil {
		panic("iron: pbkdf2: " + err.Error()) // only for impossible parameters
	}
	return k
}

func newSalt() string {
	b := make([]byte, saltBytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var b64 = base64.RawURLEncoding.Strict()

// Seal seals r's values with the first password, its expiry in
// milliseconds.
func (s *sealer) Seal(r *cookiesession.Record, _ time.Time) (string, error) {
	p := s.passwords[0]
	plain := cookiesession.AppendObject(nil, r.Values)
	// PKCS #7 padding, as WebCrypto's AES-CBC adds.
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	encSalt := newSalt()
	block, err := aes.NewCipher(derive(p.secret, encSalt))
	if err != nil {
		return "", err
	}
	iv := make([]byte, aes.BlockSize)
	_, _ = rand.Read(iv)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(plain, plain)
	expiry := ""
	if !r.Expires.IsZero() {
		expiry = strconv.FormatInt(r.Expires.UnixMilli(), 10)
	}
	base := prefix + "*" + p.id + "*" + encSalt + "*" + b64.EncodeToString(iv) + "*" + b64.EncodeToString(plain) + "*" + expiry
	macSalt := newSalt()
	mac := hmac.New(sha256.New, derive(p.secret, macSalt))
	mac.Write([]byte(base))
	return base + "*" + macSalt + "*" + b64.EncodeToString(mac.Sum(nil)) + suffix, nil
}

var (
	errNotIron  = fmt.Errorf("%w: not an iron seal", cookiesession.ErrInvalid)
	errUnknown  = fmt.Errorf("%w: iron seal made with a password id not configured", cookiesession.ErrInvalid)
	errMAC      = fmt.Errorf("%w: iron seal not verified (another password, or a changed byte)", cookiesession.ErrInvalid)
	errCiphered = fmt.Errorf("%w: iron seal verified but does not decrypt", cookiesession.ErrInvalid)
)

// Open verifies and decrypts a seal. Its work is linear in the value's
// length: one split, two PBKDF2 derivations with one iteration, one HMAC
// and one decryption.
func (s *sealer) Open(value string, _ time.Time) (cookiesession.Record, int, error) {
	value = strings.TrimSuffix(value, suffix)
	if strings.Count(value, "*") != 7 || strings.ContainsRune(value, '~') {
		return cookiesession.Record{}, 0, errNotIron
	}
	parts := strings.SplitN(value, "*", 8)
	id, encSalt, ivText, ciphertext, expiry, macSalt, macText := parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7]
	if parts[0] != prefix || !isSalt(encSalt) || !isSalt(macSalt) {
		return cookiesession.Record{}, 0, errNotIron
	}
	var expires time.Time
	if expiry != "" {
		ms, err := strconv.ParseInt(expiry, 10, 64)
		if err != nil || expiry[0] == '0' || len(expiry) > maxExpiryLen {
			return cookiesession.Record{}, 0, errNotIron
		}
		expires = time.UnixMilli(ms)
	}
	index := -1
	for i, p := range s.passwords {
		if p.id == id {
			index = i
		}
	}
	if index < 0 {
		return cookiesession.Record{}, 0, errUnknown
	}
	p := s.passwords[index]
	got, err := b64.DecodeString(macText)
	if err != nil {
		return cookiesession.Record{}, 0, errMAC
	}
	mac := hmac.New(sha256.New, derive(p.secret, macSalt))
	mac.Write([]byte(value[:len(value)-len(macSalt)-len(macText)-2]))
	if !hmac.Equal(mac.Sum(nil), got) {
		return cookiesession.Record{}, 0, errMAC
	}
	// Verified: what follows was written with this password.
	iv, err := b64.DecodeString(ivText)
	if err != nil || len(iv) != aes.BlockSize {
		return cookiesession.Record{}, 0, errCiphered
	}
	plain, err := b64.DecodeString(ciphertext)
	if err != nil || len(plain) == 0 || len(plain)%aes.BlockSize != 0 {
		return cookiesession.Record{}, 0, errCiphered
	}
	block, err := aes.NewCipher(derive(p.secret, encSalt))
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, plain)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return cookiesession.Record{}, 0, errCiphered
	}
	plain = plain[:len(plain)-pad]
	if !utf8.Valid(plain) {
		return cookiesession.Record{}, 0, errCiphered
	}
	values, err := cookiesession.ParseObject(plain)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	return cookiesession.Record{Values: values, Expires: expires}, index, nil
}

// isSalt reports whether salt is what iron-session writes: 256 random
// bits as 64 lowercase hex characters.
func isSalt(salt string) bool {
	if len(salt) != 2*saltBytes {
		return false
	}
	for i := 0; i < len(salt); i++ {
		if c := salt[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
