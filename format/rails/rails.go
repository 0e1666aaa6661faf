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
// [Format] is the value for cookiesession.Options.Format. The session hash
// is the session's values, Rails' own keys (session_id, _csrf_token, flash)
// among them, each kept as the JSON Rails wrote. Rails' session_id is the
// session's ID (Session.ID, Manager.RevokeSession); a new session gets the
// package's ID as its session_id, and Renew gives it a new one, as Rails'
// reset_session does. The metadata's expiry is the session's expiry, and
// every cookie the package writes carries one, which Rails enforces. Rails
// keeps no creation time: the Manager takes the expiry less Options.MaxAge,
// the time of the last write when MaxAge is the application's
// expire_after, so Options.NotBefore and Manager.RevokeAll end sessions
// last written before their time, and Manager.RevokeSession ends one
// session_id. With NotBefore or Options.Revocations set, New therefore
// requires MaxAge to be set (to expire_after): the default, a day, would
// make a longer-lived session look written just now and no revocation
// would end it. Without expire_after (Rails' default) a session carries
// no expiry and so no time at all; while NotBefore or Revocations is set
// such a session is refused (a new session, counted and logged as
// revoked) rather than let through unrevocable: set expire_after in the
// Rails application's session_store. Rails keeps no time of last use,
// subject or flash messages of the package's kind: IdleTimeout is refused
// at New, a session given a subject (so RevokeSubject) or a flash message
// fails to save; Rails' flash stays the "flash" value. A session is one
// cookie, never chunked.
//
// Rails 7.1's use_message_serializer_for_metadata (on in 7.1's defaults)
// puts metadata in another envelope, which this package does not read:
// keep it off.
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
// applies: 32 bytes, not plainly patterned.
const MinSecretLength = 32

// ErrMarshal reports a session that Rails serialized with Ruby's Marshal.
// It is never decoded. It matches cookiesession.ErrInvalid.
var ErrMarshal = fmt.Errorf("%w: the Rails session is Ruby Marshal data, which is never decoded: set config.action_dispatch.cookies_serializer = :json (or :hybrid until old cookies are gone)", cookiesession.ErrInvalid)

var errNotVerified = fmt.Errorf("%w: not a Rails session cookie of these secrets", cookiesession.ErrInvalid)

// Format is a Rails application's encrypted cookie store, for
// cookiesession.Options.Format. Options.Secrets are the application's
// secret_key_base first, then the old ones its cookies_rotations lists;
// Options.Name is its session cookie's name (session_store key:, by default
// "_<app name>_session"); Options.MaxAge should be its expire_after.
type Format struct {
	// Digest is the hash of the key derivation: SHA256 (the zero value)
	// for an application on Rails 7.0's defaults, SHA1 for Rails 6.1 and
	// older defaults.
	Digest Digest

	// ReadBoth also opens cookies whose keys were derived with the other
	// digest, as an application moving to Rails 7.0's key derivation does
	// through cookies_rotations. Such a cookie is re-sealed with Digest
	// only when the session changes.
	ReadBoth bool
}

// String returns "rails".
func (Format) String() string { return "rails" }

// Traits reports what a Rails session lacks: a creation time, a time of
// last use, a subject and the package's flash messages. It is one cookie.
func (Format) Traits() cookiesession.Traits {
	return cookiesession.Traits{
		Lacks:  cookiesession.LacksCreated | cookiesession.LacksLastSeen | cookiesession.LacksSubject | cookiesession.LacksFlashes,
		Chunks: cookiesession.ChunksNone,
	}
}

// NewSealer derives the keys of secrets, refusing those shorter than
// MinSecretLength or patterned, for the cookie called cookieName.
func (f Format) NewSealer(secrets [][]byte, cookieName string) (cookiesession.Sealer, error) {
	digests := []Digest{f.Digest}
	if f.ReadBoth {
		other := SHA1
		if f.Digest == SHA1 {
			other = SHA256
		}
		digests = append(digests, other)
	}
	c, err := newCodec(secrets, digests...)
	if err != nil {
		return nil, err
	}
	return &sealer{c, cookieName}, nil
}

type sealer struct {
	codec *codec
	name  string
}

// sessionID is where Rails keeps the session's ID.
const sessionID = "session_id"

func (s *sealer) Open(value string, now time.Time) (cookiesession.Record, int, error) {
	o, err := s.codec.open(s.name, value, now)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	values, err := cookiesession.ParseObject(o.json)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	r := cookiesession.Record{Values: values, Expires: o.expires}
	for _, v := range values {
		var id string
		if v.Name == sessionID && json.Unmarshal([]byte(v.JSON), &id) == nil {
			r.ID = id
		}
	}
	return r, o.key / s.codec.perSecret, nil
}

func (s *sealer) Seal(r *cookiesession.Record, _ time.Time) (string, error) {
	values := r.Values
	if r.ID != "" {
		id, err := json.Marshal(r.ID)
		if err != nil {
			return "", err
		}
		values = withValue(values, sessionID, string(id))
	}
	return s.codec.seal(s.name, cookiesession.AppendObject(nil, values), r.Expires)
}

// withValue returns values with name set to raw, in its place or first.
func withValue(values []cookiesession.Field, name, raw string) []cookiesession.Field {
	out := make([]cookiesession.Field, 0, len(values)+1)
	out = append(out, cookiesession.Field{Name: name, JSON: raw})
	for _, v := range values {
		if v.Name == name {
			out[0] = cookiesession.Field{Name: name, JSON: raw}
			continue
		}
		out = append(out, v)
	}
	return out
}

// codec seals and opens one application's session cookies.
type codec struct {
	keys      []cipher.AEAD // every secret with every digest, newest secret first
	perSecret int           // digests per secret
}

// newCodec derives the keys of secrets (newest first: the first seals,
// every one opens) with each of digests (the first seals).
func newCodec(secrets [][]byte, digests ...Digest) (*codec, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret_key_base", cookiesession.ErrWeakSecret)
	}
	c := &codec{perSecret: len(digests)}
	for i, s := range secrets {
		if err := cookiesession.CheckSecret(s, MinSecretLength); err != nil {
			return nil, fmt.Errorf("%w (Rails secret_key_base %d)", err, i)
		}
		for _, d := range digests {
			if d != SHA1 && d != SHA256 {
				return nil, fmt.Errorf("cookiesession: unknown Rails key derivation %v", d)
			}
			key, err := pbkdf2.Key(d.hash(), string(s), []byte(salt), iterations, keySize)
			if err != nil {
				return nil, fmt.Errorf("cookiesession: Rails key derivation: %w", err)
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

// opened is what a Rails cookie holds.
type opened struct {
	json    []byte    // the session hash as Rails serialized it, a JSON object
	expires time.Time // the metadata's expiry; zero when Rails wrote none
	key     int       // the key that opened it, each secret's digests in turn
}

// envelope is Rails' metadata wrapper (ActiveSupport::Messages::Metadata).
type envelope struct {
	Rails *struct {
		Message *string `json:"message"`
		Exp     *string `json:"exp"`
		Pur     *string `json:"pur"`
	} `json:"_rails"`
}

// open decrypts and verifies the value of the cookie called name, as it
// arrives in the Cookie header, and checks its purpose and expiry against
// now. Errors match cookiesession.ErrInvalid or, for a verified cookie past
// its expiry, cookiesession.ErrExpired.
func (c *codec) open(name, value string, now time.Time) (opened, error) {
	raw, err := url.QueryUnescape(value)
	if err != nil {
		return opened{}, fmt.Errorf("%w: value is not URL-escaped", cookiesession.ErrInvalid)
	}
	parts := strings.SplitN(raw, "--", 4)
	if len(parts) != 3 {
		return opened{}, fmt.Errorf("%w: not three parts joined by --", cookiesession.ErrInvalid)
	}
	var ct, iv, tag []byte
	for i, dst := range []*[]byte{&ct, &iv, &tag} {
		if *dst, err = base64.StdEncoding.Strict().DecodeString(parts[i]); err != nil {
			return opened{}, fmt.Errorf("%w: part %d is not strict base64", cookiesession.ErrInvalid, i)
		}
	}
	if len(iv) != ivSize || len(tag) != tagSize {
		return opened{}, fmt.Errorf("%w: IV or tag of the wrong length", cookiesession.ErrInvalid)
	}
	sealed := append(ct, tag...)
	for i, aead := range c.keys {
		plain, err := aead.Open(nil, iv, sealed, nil)
		if err != nil {
			continue
		}
		o, err := unwrap(name, plain, now)
		o.key = i
		return o, err
	}
	return opened{}, errNotVerified
}

// unwrap checks the metadata envelope of a verified plaintext.
func unwrap(name string, plain []byte, now time.Time) (opened, error) {
	var e envelope
	if err := json.Unmarshal(plain, &e); err != nil || e.Rails == nil || e.Rails.Message == nil {
		// Rails 6.1 still reads cookies written before Rails 5.2 put
		// metadata in them; without a purpose the value is not bound to
		// the cookie's name, so they are refused here. Rails 7.1 with
		// use_message_serializer_for_metadata writes another envelope,
		// untested here and refused.
		return opened{}, fmt.Errorf("%w: no Rails metadata envelope with a message (a cookie from before Rails 5.2, or from Rails 7.1 with use_message_serializer_for_metadata)", cookiesession.ErrInvalid)
	}
	if e.Rails.Pur == nil || *e.Rails.Pur != "cookie."+name {
		return opened{}, fmt.Errorf("%w: the Rails purpose is not this cookie's name", cookiesession.ErrInvalid)
	}
	var o opened
	if e.Rails.Exp != nil {
		exp, err := time.Parse(time.RFC3339Nano, *e.Rails.Exp)
		if err != nil {
			return opened{}, fmt.Errorf("%w: the Rails expiry is not ISO 8601", cookiesession.ErrInvalid)
		}
		if !now.Before(exp) {
			return opened{}, fmt.Errorf("%w: the Rails expiry has passed", cookiesession.ErrExpired)
		}
		o.expires = exp
	}
	msg, err := base64.StdEncoding.Strict().DecodeString(*e.Rails.Message)
	if err != nil {
		return opened{}, fmt.Errorf("%w: the Rails message is not strict base64", cookiesession.ErrInvalid)
	}
	if bytes.HasPrefix(msg, []byte{4, 8}) {
		return opened{}, ErrMarshal
	}
	if t := bytes.TrimLeft(msg, " \t\r\n"); len(t) == 0 || t[0] != '{' || !json.Valid(msg) {
		return opened{}, fmt.Errorf("%w: the Rails session is not a JSON object", cookiesession.ErrInvalid)
	}
	o.json = msg
	return o, nil
}

// seal encrypts session (a JSON object) for the cookie called name with the
// newest key, with Rails' metadata: the cookie's purpose and, unless
// expires is zero, its expiry. The value returned is URL-escaped as Rack
// escapes it, ready for a Set-Cookie header.
func (c *codec) seal(name string, session []byte, expires time.Time) (string, error) {
	if !json.Valid(session) {
		return "", errors.New("cookiesession: the Rails session is not JSON")
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
