// Package django reads and writes the session cookies of Django's
// signed_cookies session backend (SESSION_ENGINE =
// "django.contrib.sessions.backends.signed_cookies" with the default JSON
// serializer), so that a Go service and a Django application on one domain
// share the login while routes move from one to the other.
//
// The sessions are signed, not encrypted: anyone holding the cookie can read
// the session (it is base64 of JSON, sometimes zlib-compressed); only
// changing it needs the secret. Keep nothing in it the user must not see.
//
// A cookie is django.core.signing's TimestampSigner output,
//
//	[.]base64url(JSON)  ":"  base-62(Unix seconds)  ":"  base64url(HMAC-SHA256)
//
// with a leading "." when the JSON is zlib-compressed (Django compresses
// only when that saves space). The HMAC key is SHA-256 of the salt
// "django.contrib.sessions.backends.signed_cookiessigner" followed by the
// SECRET_KEY, and it signs everything before the last ":". The session
// expires SESSION_COOKIE_AGE after the signing time, on both sides. Checked
// against Django 3.2 (Debian's python3-django).
//
// [Format] is the value for cookiesession.Options.Format. The session's
// values are Django's session dictionary, Django's own keys
// (_auth_user_id, _auth_user_backend, _auth_user_hash, _session_expiry)
// among them, each kept as the JSON Django wrote. The cookie carries one
// time, when it was signed: the session expires the format's CookieAge
// after it, and every write signs it anew, on both sides. The signing
// time is the session's creation time (Session.Created), whatever
// Options.MaxAge is, so Options.NotBefore and Manager.RevokeAll end
// sessions last written before their time. It has no ID, no time of last
// use, no subject and none of the package's flash messages (Django's
// messages framework keeps its own cookie, or its own "_messages" value):
// Session.ID is "", IdleTimeout is refused at New, and a session given a
// subject (Session.SetSubject) or a flash message (Session.AddFlash)
// fails to save; with no ID or subject, RevokeSession and RevokeSubject
// have nothing to list. A session is one cookie, never chunked.
//
// Sessions serialized with pickle (SESSION_SERIALIZER = PickleSerializer)
// are refused with [ErrPickle] and never decoded: unpickling runs code.
// Django 3.1 and 3.2 also accept SHA-1 signatures from before 3.1 and
// write them under DEFAULT_HASHING_ALGORITHM = "sha1"; this package
// accepts and writes SHA-256 only.
package django

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/internal/signing"
)

// salt is the signed_cookies backend's salt; the Signer appends "signer".
const salt = "django.contrib.sessions.backends.signed_cookies"

// MinSecretLength is the shortest SECRET_KEY accepted, in bytes: what
// Django's own deployment check (manage.py check --deploy, security.W009)
// asks for, 50 characters; the package's rule against patterned secrets
// applies too. Django's get_random_secret_key makes 50.
const MinSecretLength = 50

// DefaultCookieAge is Django's default SESSION_COOKIE_AGE, two weeks.
const DefaultCookieAge = 14 * 24 * time.Hour

// ErrPickle reports a session that Django serialized with pickle. It is
// never decoded. It matches cookiesession.ErrInvalid.
var ErrPickle = fmt.Errorf("%w: the Django session is pickle data, which is never decoded: use the default SESSION_SERIALIZER (JSONSerializer)", cookiesession.ErrInvalid)

var errNotVerified = fmt.Errorf("%w: not a Django signed_cookies session of these secrets", cookiesession.ErrInvalid)

// Format is Django's signed_cookies session backend, for
// cookiesession.Options.Format. Options.Secrets are the application's
// SECRET_KEY first, then the old keys it still accepts (Django 4.1's
// SECRET_KEY_FALLBACKS); Options.Name is its SESSION_COOKIE_NAME
// ("sessionid" by default); Options.MaxAge should equal CookieAge.
type Format struct {
	// CookieAge is SESSION_COOKIE_AGE: how long after its signing a
	// session is accepted. Zero means Django's default, DefaultCookieAge.
	CookieAge time.Duration
}

// String returns "django".
func (Format) String() string { return "django" }

// Traits reports that the client can read a Django session, and what it
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
// MinSecretLength or patterned. Django does not bind the cookie's name.
func (f Format) NewSealer(secrets [][]byte, _ string) (cookiesession.Sealer, error) {
	return newCodec(secrets, cmp.Or(f.CookieAge, DefaultCookieAge))
}

// Open verifies value and returns the session it holds, expiring
// CookieAge after its signing.
func (c *codec) Open(value string, now time.Time) (cookiesession.Record, int, error) {
	o, err := c.open(value, now)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	values, err := cookiesession.ParseObject(o.JSON)
	if err != nil {
		return cookiesession.Record{}, 0, err
	}
	return cookiesession.Record{Values: values, Created: o.Signed, Expires: o.Signed.Add(c.age)}, o.Key, nil
}

// Seal signs r's values at now.
func (c *codec) Seal(r *cookiesession.Record, now time.Time) (string, error) {
	return c.seal(cookiesession.AppendObject(nil, r.Values), now)
}

type codec struct {
	keys [][]byte // HMAC keys, newest secret first
	age  time.Duration
}

// newCodec derives the HMAC keys of secrets (the SECRET_KEY first, then
// its fallbacks).
func newCodec(secrets [][]byte, age time.Duration) (*codec, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no SECRET_KEY", cookiesession.ErrWeakSecret)
	}
	c := &codec{age: age}
	for i, s := range secrets {
		if err := cookiesession.CheckSecret(s, MinSecretLength); err != nil {
			return nil, fmt.Errorf("%w (Django SECRET_KEY %d)", err, i)
		}
		h := sha256.New()
		h.Write([]byte(salt + "signer"))
		h.Write(s)
		c.keys = append(c.keys, h.Sum(nil))
	}
	return c, nil
}

// scheme is django.core.signing's TimestampSigner: ":" between the parts,
// HMAC-SHA256, the time in base62.
var scheme = signing.Scheme{
	Sep:        ':',
	Hash:       sha256.New,
	AppendTime: appendBase62,
	ParseTime: func(s string) (int64, error) {
		if n, ok := base62(s); ok {
			return n, nil
		}
		return 0, errors.New("the timestamp is not base62")
	},
	NotVerified: errNotVerified,
}

// open verifies value and returns the session JSON it holds, refusing
// pickle. It does not check the age: the caller compares Signed+age with
// now.
func (c *codec) open(value string, now time.Time) (signing.Opened, error) {
	o, err := scheme.Open(c.keys, value, now)
	if err != nil {
		return signing.Opened{}, err
	}
	if len(o.JSON) > 0 && o.JSON[0] == 0x80 {
		// Pickle protocol 2 and later start with PROTO (0x80).
		return signing.Opened{}, ErrPickle
	}
	return o, nil
}

// seal signs session (a JSON object) at now, compressed when that is
// shorter, as django.core.signing.dumps(..., compress=True) does.
func (c *codec) seal(session []byte, now time.Time) (string, error) {
	data, err := asciiJSON(session)
	if err != nil {
		return "", err
	}
	return scheme.Seal(c.keys[0], data, now), nil
}

// asciiJSON escapes every non-ASCII character of valid JSON as \uXXXX.
// Django's JSONSerializer decodes the payload as Latin-1 (it writes ASCII
// only, json.dumps's default), so UTF-8 bytes would arrive garbled.
func asciiJSON(data []byte) ([]byte, error) {
	if !json.Valid(data) {
		return nil, errors.New("cookiesession: the Django session is not JSON")
	}
	ascii := true
	for _, b := range data {
		if b >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return data, nil
	}
	out := make([]byte, 0, len(data)+len(data)/2)
	for _, r := range string(data) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r <= 0xFFFF:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		}
	}
	return out, nil
}

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62 decodes Django's base62 (baseconv.base62) of a non-negative time.
func base62(s string) (int64, bool) {
	if s == "" || len(s) > 10 { // 62^10 > 2^59 seconds: far beyond any time
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base62Digits, s[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + int64(d)
	}
	return n, true
}

func appendBase62(dst []byte, n int64) []byte {
	if n <= 0 {
		return append(dst, '0')
	}
	var buf [11]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = base62Digits[n%62]
		n /= 62
	}
	return append(dst, buf[i:]...)
}
