// Package rails reads and writes the session cookies of a Rails
// application's encrypted cookie store (ActionDispatch::Session::CookieStore
// with the JSON cookies serializer), so that a Go service and a Rails
// application on one domain share the login while routes move from one to
// the other.
//
// A cookie is AES-256-GCM under a key derived from the application's
// secret_key_base with PBKDF2 (1000 iterations, salt "authenticated
// encrypted cookie"): HMAC-SHA256 in Rails 7.0's defaults, HMAC-SHA1 in
// Rails 5.2 to 6.1 and in applications that kept older defaults. The
// plaintext is Rails' metadata envelope,
//
//	{"_rails":{"message":"<base64 of the session JSON>","exp":"<ISO 8601>"|null,"pur":"cookie.<name>"}}
//
// whose purpose binds the value to the cookie's name and whose expiry
// Rails and this package both enforce. The value is strict base64 of
// ciphertext, IV and tag joined by "--", URL-escaped as Rack escapes cookie
// values. Checked against Rails 6.1's own cookie jar (Debian's
// ruby-actionpack), with SHA-1 and with a Rails 7.0-style SHA-256 key
// generator.
//
// Sessions serialized with Ruby's Marshal (cookies_serializer :marshal,
// and old cookies of :hybrid) are refused with [ErrMarshal] and never
// decoded: Marshal data can make Ruby run code, and nothing here
// interprets it.
package rails

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// Digest is the hash of Rails' PBKDF2 key derivation
// (config.active_support.key_generator_hash_digest_class).
type Digest int

const (
	// SHA256 is Rails 7.0's default for new applications.
	SHA256 Digest = iota
	// SHA1 is Rails 6.1's only choice, and Rails 7's for applications
	// that kept the older defaults.
	SHA1
)

func (d Digest) String() string {
	switch d {
	case SHA256:
		return "SHA256"
	case SHA1:
		return "SHA1"
	}
	return fmt.Sprintf("Digest(%d)", int(d))
}

func (d Digest) hash() func() hash.Hash {
	if d == SHA1 {
		return sha1.New
	}
	return sha256.New
}

// The parameters of the encrypted cookie jar, as Rails sets them
// (action_dispatch.authenticated_encrypted_cookie_salt; the key
// generator's iterations in Rails::Application#key_generator).
const (
	salt       = "authenticated encrypted cookie"
	iterations = 1000
	keySize    = 32 // AES-256
	ivSize     = 12
	tagSize    = 16
)

// MinSecretLength is the shortest secret_key_base accepted, in bytes.
// Rails itself only requires one to be present and generates 64 random
// bytes as 128 hex characters (bin/rails secret); this package's own rule
// of 32 bytes applies.
const MinSecretLength = 32

// ErrMarshal reports a session that Rails serialized with Ruby's Marshal.
// It is never decoded. It matches cookiesession.ErrInvalid.
var ErrMarshal = fmt.Errorf("%w: the Rails session is Ruby Marshal data, which is never decoded: set config.action_dispatch.cookies_serializer = :json (or :hybrid until old cookies are gone)", cookiesession.ErrInvalid)

var errNotVerified = fmt.Errorf("%w: not a Rails session cookie of these secrets", cookiesession.ErrInvalid)

// Codec seals and opens one application's session cookies.
type Codec struct {
	keys []cipher.AEAD // every secret with every digest, newest secret first
}

// New derives the keys of secrets (newest first: the first seals, every one
// opens) with each of digests (the first seals; none means SHA256). Giving
// two digests reads the cookies of an application that is moving from
// SHA1 to SHA256, as Rails' cookies_rotations does.
func New(secrets [][]byte, digests ...Digest) (*Codec, error) {
	if len(digests) == 0 {
		digests = []Digest{SHA256}
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret_key_base", cookiesession.ErrWeakSecret)
	}
	c := &Codec{}
	for i, s := range secrets {
		if len(s) < MinSecretLength {
			return nil, fmt.Errorf("%w: secret_key_base %d has %d bytes, fewer than %d", cookiesession.ErrWeakSecret, i, len(s), MinSecretLength)
		}
		for _, d := range digests {
			if d != SHA1 && d != SHA256 {
				return nil, fmt.Errorf("cookiesession/format/rails: unknown %v", d)
			}
			key, err := pbkdf2.Key(d.hash(), string(s), []byte(salt), iterations, keySize)
			if err != nil {
				return nil, fmt.Errorf("cookiesession/format/rails: %w", err)
			}
			block, err := aes.NewCipher(key)
			if err != nil {
				return nil, err
			}
			aead, err := cipher.NewGCM(block)
			if err != nil {
				return nil, err
			}
			c.keys = append(c.keys, aead)
		}
	}
	return c, nil
}

// Session is what a Rails cookie holds.
type Session struct {
	// JSON is the session hash as Rails serialized it: a JSON object with
	// its own keys (session_id, _csrf_token) beside the application's.
	JSON []byte
	// Expires is the metadata's expiry (the session store's
	// expire_after); zero when Rails wrote none.
	Expires time.Time
	// Key is the index of the key that opened the cookie, counting each
	// secret's digests in turn: 0 is the newest.
	Key int
}

// envelope is Rails' metadata wrapper (ActiveSupport::Messages::Metadata).
type envelope struct {
	Rails *struct {
		Message *string `json:"message"`
		Exp     *string `json:"exp"`
		Pur     *string `json:"pur"`
	} `json:"_rails"`
}

// Open decrypts and verifies the value of the cookie called name, as it
// arrives in the Cookie header, and checks its purpose and expiry against
// now. Errors match cookiesession.ErrInvalid or, for a verified cookie past
// its expiry, cookiesession.ErrExpired.
func (c *Codec) Open(name, value string, now time.Time) (Session, error) {
	raw, err := url.QueryUnescape(value)
	if err != nil {
		return Session{}, fmt.Errorf("%w: value is not URL-escaped", cookiesession.ErrInvalid)
	}
	parts := strings.Split(raw, "--")
	if len(parts) != 3 {
		return Session{}, fmt.Errorf("%w: not three parts joined by --", cookiesession.ErrInvalid)
	}
	var ct, iv, tag []byte
	for i, dst := range []*[]byte{&ct, &iv, &tag} {
		if *dst, err = base64.StdEncoding.Strict().DecodeString(parts[i]); err != nil {
			return Session{}, fmt.Errorf("%w: part %d is not strict base64", cookiesession.ErrInvalid, i)
		}
	}
	if len(iv) != ivSize || len(tag) != tagSize {
		return Session{}, fmt.Errorf("%w: IV or tag of the wrong length", cookiesession.ErrInvalid)
	}
	sealed := append(ct, tag...)
	for i, aead := range c.keys {
		plain, err := aead.Open(nil, iv, sealed, nil)
		if err != nil {
			continue
		}
		s, err := unwrap(name, plain, now)
		s.Key = i
		return s, err
	}
	return Session{}, errNotVerified
}

// unwrap checks the metadata envelope of a verified plaintext.
func unwrap(name string, plain []byte, now time.Time) (Session, error) {
	var e envelope
	if err := json.Unmarshal(plain, &e); err != nil || e.Rails == nil || e.Rails.Message == nil {
		// Rails 6.1 still reads cookies written before Rails 5.2 put
		// metadata in them; without a purpose the value is not bound to
		// the cookie's name, so they are refused here.
		return Session{}, fmt.Errorf("%w: no Rails metadata envelope (a cookie from before Rails 5.2?)", cookiesession.ErrInvalid)
	}
	if e.Rails.Pur == nil || *e.Rails.Pur != "cookie."+name {
		return Session{}, fmt.Errorf("%w: the Rails purpose is not this cookie's name", cookiesession.ErrInvalid)
	}
	var s Session
	if e.Rails.Exp != nil {
		exp, err := time.Parse(time.RFC3339Nano, *e.Rails.Exp)
		if err != nil {
			return Session{}, fmt.Errorf("%w: the Rails expiry is not ISO 8601", cookiesession.ErrInvalid)
		}
		if !now.Before(exp) {
			return Session{}, fmt.Errorf("%w: the Rails expiry has passed", cookiesession.ErrExpired)
		}
		s.Expires = exp
	}
	msg, err := base64.StdEncoding.Strict().DecodeString(*e.Rails.Message)
	if err != nil {
		return Session{}, fmt.Errorf("%w: the Rails message is not strict base64", cookiesession.ErrInvalid)
	}
	if bytes.HasPrefix(msg, []byte{4, 8}) {
		return Session{}, ErrMarshal
	}
	if t := bytes.TrimLeft(msg, " \t\r\n"); len(t) == 0 || t[0] != '{' || !json.Valid(msg) {
		return Session{}, fmt.Errorf("%w: the Rails session is not a JSON object", cookiesession.ErrInvalid)
	}
	s.JSON = msg
	return s, nil
}

// Seal encrypts session (a JSON object) for the cookie called name with the
// newest key, with Rails' metadata: the cookie's purpose and, unless
// expires is zero, its expiry. The value returned is URL-escaped as Rack
// escapes it, ready for a Set-Cookie header.
func (c *Codec) Seal(name string, session []byte, expires time.Time) (string, error) {
	if !json.Valid(session) {
		return "", errors.New("cookiesession/format/rails: the session is not JSON")
	}
	var exp *string
	if !expires.IsZero() {
		s := expires.UTC().Format("2006-01-02T15:04:05.000Z")
		exp = &s
	}
	pur := "cookie." + name
	msg := base64.StdEncoding.EncodeToString(session)
	plain, err := json.Marshal(map[string]any{"_rails": map[string]any{"message": msg, "exp": exp, "pur": pur}})
	if err != nil {
		return "", err
	}
	iv := make([]byte, ivSize)
	_, _ = rand.Read(iv)
	sealed := c.keys[0].Seal(nil, iv, plain, nil)
	ct, tag := sealed[:len(sealed)-tagSize], sealed[len(sealed)-tagSize:]
	b := base64.StdEncoding
	return url.QueryEscape(b.EncodeToString(ct) + "--" + b.EncodeToString(iv) + "--" + b.EncodeToString(tag)), nil
}
