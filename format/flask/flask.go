// Package flask reads and writes the session cookies of a Flask
// application's default session interface (SecureCookieSessionInterface,
// over itsdangerous), so that a Go service and a Flask application on one
// domain share the login while routes move from one to the other.
//
// The sessions are signed, not encrypted: anyone holding the cookie can read
// the session (it is base64 of JSON, sometimes zlib-compressed); only
// changing it needs the secret. Keep nothing in it the user must not see.
//
// A cookie is itsdangerous' URLSafeTimedSerializer output,
//
//	[.]base64url(JSON)  "."  base64url(Unix seconds, big-endian)  "."  base64url(HMAC-SHA1)
//
// with a leading "." when the JSON is zlib-compressed (only when that saves
// space). The HMAC key is HMAC-SHA1(SECRET_KEY, "cookie-session"), and it
// signs everything before the last ".". The session expires
// PERMANENT_SESSION_LIFETIME after the signing time, on both sides, whether
// or not the session is permanent. Checked against Flask 2.2 and
// itsdangerous 2.1 (Debian's python3-flask).
//
// Flask's tagged JSON keeps Python types JSON lacks as one-key objects:
// {" t": [...]} a tuple, {" b": "<base64>"} bytes, {" u": "<hex>"} a UUID,
// {" d": "<HTTP date>"} a datetime, {" m": "<html>"} Markup, and
// {" di": {"<key>__": v}} a one-key dict whose key is one of these tags.
// [Tuple], [Bytes], [UUID], [Time] and [Markup] read and write the tagged
// forms, and a value the Go side does not change goes back to Flask as the
// same Python type. Any other value is plain JSON to Flask: a Go map whose
// only key is a tag, such as map[string]string{" m": s} built from user
// input, is escaped as Flask escapes such a dict, at any depth, so Flask
// never reads it as Markup (HTML its templates would not escape) or a
// datetime; such dicts Flask wrote read back as those maps. A
// json.RawMessage is a plain value too: write a tagged type with the
// types above.
//
// [Format] is the value for cookiesession.Options.Format. The session's
// values are Flask's session dictionary, the keys of Flask and its
// extensions (_permanent, Flask-Login's _user_id and _fresh, Flask-WTF's
// csrf_token) among them. The cookie carries one time, when it was signed:
// the session expires the format's Lifetime after it, and every write
// signs it anew, on both sides. The signing time is the session's
// creation time (Session.Created), whatever Options.MaxAge is, so
// Options.NotBefore and Manager.RevokeAll end sessions last written before
// their time. It has no ID, no time of last use, no subject and none of
// the package's flash messages (Flask's own flashes stay its "_flashes"
// value): Session.ID is "", IdleTimeout is refused at New, and a session
// given a subject (Session.SetSubject) or a flash message
// (Session.AddFlash) fails to save; with no ID or subject, RevokeSession
// and RevokeSubject have nothing to list. A session is one cookie, never
// chunked.
package flask

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/internal/signing"
)

// salt is SecureCookieSessionInterface.salt.
const salt = "cookie-session"

// MinSecretLength is the shortest SECRET_KEY accepted, in bytes. Flask sets
// no minimum; this is the package's own rule (32 bytes, not plainly
// patterned), and what Flask's documentation suggests generating
// (secrets.token_hex() gives 64 characters).
const MinSecretLength = 32

// DefaultLifetime is Flask's default PERMANENT_SESSION_LIFETIME, 31 days.
const DefaultLifetime = 31 * 24 * time.Hour

var errNotVerified = fmt.Errorf("%w: not a Flask session of these secrets", cookiesession.ErrInvalid)

// Format is Flask's default session cookie, for
// cookiesession.Options.Format. Options.Secrets are the application's
// SECRET_KEY first, then the old keys it still accepts (Flask 3.1's
// SECRET_KEY_FALLBACKS, newest first); Options.Name is its
// SESSION_COOKIE_NAME ("session" by default); Options.MaxAge should equal
// Lifetime.
type Format struct {
	// Lifetime is PERMANENT_SESSION_LIFETIME: how long after its signing
	// a session is accepted, permanent or not. Zero means Flask's default,
	// DefaultLifetime.
	Lifetime time.Duration
}

// String returns "flask".
func (Format) String() string { return "flask" }

// Traits reports that the client can read a Flask session, and what it
// lacks: an ID, a time of last use, a subject and flash
// messages. It is one cookie.
func (Format) Traits() cookiesession.Traits {
	return cookiesession.Traits{
		Lacks: cookiesession.LacksID | cookiesession.LacksLastSeen |
			cookiesession.LacksSubject | cookiesession.LacksFlashes | cookiesession.LacksEncryption,
		Chunks: cookiesession.ChunksNone,
	}
}

// NewSealer derives the HMAC keys of secrets, refusing those shorter than
// MinSecretLength or patterned. Flask does not bind the cookie's name.
func (f Format) NewSealer(secrets [][]byte, _ string) (cookiesession.Sealer, error) {
	return newCodec(secrets, cmp.Or(f.Lifetime, DefaultLifetime))
}

// Open verifies value and returns the session it holds, expiring Lifetime
// after its signing.
func (c *codec) Open(value string, now time.Time) (cookiesession.Record, int, error) {
	o, err := scheme.Open(c.keys, value, now)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	if !json.Valid(o.JSON) {
		return cookiesession.Record{}, 0, fmt.Errorf("%w: the Flask session is not JSON", cookiesession.ErrInvalid)
	}
	session, err := retag(o.JSON, false)
	if err != nil {
		return cookiesession.Record{}, 0, fmt.Errorf("%w: %v", cookiesession.ErrInvalid, err)
	}
	values, err := cookiesession.ParseObject(session)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	return cookiesession.Record{Values: values, Created: o.Signed, Expires: o.Signed.Add(c.lifetime)}, o.Key, nil
}

// Seal signs r's values at now.
func (c *codec) Seal(r *cookiesession.Record, now time.Time) (string, error) {
	session, err := retag(cookiesession.AppendObject(nil, r.Values), true)
	if err != nil {
		return "", err
	}
	return c.seal(session, now)
}

type codec struct {
	keys     [][]byte // HMAC keys, newest secret first
	lifetime time.Duration
}

// newCodec derives the HMAC keys of secrets (the SECRET_KEY first, then
// its fallbacks).
func newCodec(secrets [][]byte, lifetime time.Duration) (*codec, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no SECRET_KEY", cookiesession.ErrWeakSecret)
	}
	c := &codec{lifetime: lifetime}
	for i, s := range secrets {
		if err := cookiesession.CheckSecret(s, MinSecretLength); err != nil {
			return nil, fmt.Errorf("%w (Flask SECRET_KEY %d)", err, i)
		}
		// itsdangerous' key_derivation "hmac".
		mac := hmac.New(sha1.New, s)
		mac.Write([]byte(salt))
		c.keys = append(c.keys, mac.Sum(nil))
	}
	return c, nil
}

// scheme is itsdangerous' TimestampSigner: "." between the parts,
// HMAC-SHA1, the time as the shortest big-endian bytes in base64url.
var scheme = signing.Scheme{
	Sep:  '.',
	Hash: sha1.New,
	AppendTime: func(dst []byte, unix int64) []byte {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(max(unix, 0)))
		return base64.RawURLEncoding.AppendEncode(dst, bytes.TrimLeft(n[:], "\x00"))
	},
	ParseTime: func(s string) (int64, error) {
		ts, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(ts) == 0 || len(ts) > 8 || ts[0] == 0 {
			return 0, errors.New("the timestamp is not base64url of an integer")
		}
		var n [8]byte
		copy(n[8-len(ts):], ts)
		// Past int64, it is refused as in the future all the same.
		return int64(min(binary.BigEndian.Uint64(n[:]), math.MaxInt64)), nil
	},
	NotVerified: errNotVerified,
}

// seal signs session (a JSON object) at now, compressed when that is
// shorter, as URLSafeTimedSerializer.dumps does.
func (c *codec) seal(session []byte, now time.Time) (string, error) {
	if !json.Valid(session) {
		return "", errors.New("cookiesession: the Flask session is not JSON")
	}
	return scheme.Seal(c.keys[0], session, now), nil
}
