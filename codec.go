package cookiesession

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/securecookie"
)

// Format selects how a session is sealed into its cookie value.
type Format int

const (
	// FormatSecureCookie, the default, is gorilla/securecookie's
	// encrypt-then-MAC format: AES-256-CTR with a random IV, then
	// HMAC-SHA256 over the cookie name, a timestamp and the ciphertext. The
	// client can neither read nor change the session.
	FormatSecureCookie Format = iota

	// FormatSignOnly is securecookie's format without encryption: the
	// client can read the session JSON (base64-encoded twice) but cannot
	// change it. Use it only for data the client may see, such as UI
	// preferences, or when page scripts must read it (see
	// Options.ScriptAccess). Its values are shorter by the 16-byte IV.
	FormatSignOnly
)

// String returns the format's name as used in logs and by the command-line
// tool.
func (f Format) String() string {
	switch f {
	case FormatSecureCookie:
		return "securecookie"
	case FormatSignOnly:
		return "sign-only"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// envelope is the session as it travels: the application's values plus the
// metadata the server checks on every read. It is inside the authenticated
// (and, but for FormatSignOnly, encrypted) payload, so a client cannot
// extend its own session: cookie Max-Age is only a hint to the browser.
// Field names are one letter because every byte is sent on every request.
type envelope struct {
	ID      string                     `json:"i"`
	Created int64                      `json:"c"`           // Unix seconds
	Expires int64                      `json:"e"`           // absolute expiry, Unix seconds
	Seen    int64                      `json:"s,omitempty"` // last activity, only with an idle timeout
	Persist *bool                      `json:"p,omitempty"` // per-session override of Options.Transient
	Values  map[string]json.RawMessage `json:"v,omitempty"`
	Flashes []string                   `json:"f,omitempty"`
}

// Reasons a cookie is not accepted. The middleware logs them at debug level
// and carries on with a new session; they never reach the client.
var (
	// ErrInvalid reports a cookie value that no key verifies: made with
	// another key, tampered with, truncated, or not a session at all.
	ErrInvalid = errors.New("cookiesession: not verified by any key (wrong key, tampered or not a session)")

	// ErrExpired reports a verified session past its absolute expiry or
	// idle timeout.
	ErrExpired = errors.New("cookiesession: session expired")
)

// clockSkew is how far in the future a created-at may lie, to allow for
// replicas whose clocks disagree a little. Beyond it the value is refused.
const clockSkew = time.Minute

// check enforces the times inside a verified envelope.
func (e *envelope) check(now time.Time, idle time.Duration) error {
	t := now.Unix()
	switch {
	case e.ID == "" || e.Created == 0 || e.Expires == 0:
		return fmt.Errorf("%w: payload is not a session envelope", ErrInvalid)
	case e.Created > now.Add(clockSkew).Unix():
		return fmt.Errorf("%w: created in the future", ErrInvalid)
	case t >= e.Expires:
		return fmt.Errorf("%w: absolute lifetime ended %s", ErrExpired, time.Unix(e.Expires, 0).UTC().Format(time.RFC3339))
	case idle > 0 && t-e.lastSeen() >= int64(idle/time.Second):
		return fmt.Errorf("%w: idle since %s", ErrExpired, time.Unix(e.lastSeen(), 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// lastSeen falls back to the creation time for sessions written while no
// idle timeout was configured.
func (e *envelope) lastSeen() int64 {
	if e.Seen != 0 {
		return e.Seen
	}
	return e.Created
}

// rawJSON hands securecookie the JSON we have already produced, so the
// session is serialised once (securecookie would otherwise encode it again
// with its own serializer).
type rawJSON struct{}

func (rawJSON) Serialize(src any) ([]byte, error) {
	b, ok := src.([]byte)
	if !ok {
		return nil, fmt.Errorf("cookiesession: internal: serializer got %T", src)
	}
	return b, nil
}

func (rawJSON) Deserialize(src []byte, dst any) error {
	p, ok := dst.(*[]byte)
	if !ok {
		return fmt.Errorf("cookiesession: internal: deserializer got %T", dst)
	}
	*p = src
	return nil
}

// newSecureCookie returns a securecookie codec for one derived key pair.
// Its own age and length checks are off: expiry lives in the envelope and
// the size limit is enforced per cookie by the chunker.
func newSecureCookie(hashKey, blockKey []byte) *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey).
		SetSerializer(rawJSON{}).
		MaxAge(0).
		MaxLength(0)
}

// seal encodes plain (the envelope JSON) for the cookie name with the
// newest key.
func (r keyRing) seal(f Format, name string, plain []byte) (string, error) {
	sc := r[0].sealed
	if f == FormatSignOnly {
		sc = r[0].signOnly
	}
	v, err := sc.Encode(name, plain)
	if err != nil {
		return "", fmt.Errorf("cookiesession: encode: %w", err)
	}
	return v, nil
}

// open verifies value for the cookie name and returns the plaintext and
// the index of the key that verified it. A sealed manager only accepts
// sealed values and a sign-only manager only signed ones: the two use
// different sub-keys, so a value of one kind never verifies as the other.
func (r keyRing) open(f Format, name, value string) (plain []byte, keyIndex int, err error) {
	for i, k := range r {
		sc := k.sealed
		if f == FormatSignOnly {
			sc = k.signOnly
		}
		if sc.Decode(name, value, &plain) == nil {
			return plain, i, nil
		}
	}
	return nil, 0, ErrInvalid
}

// decodeEnvelope parses verified plaintext.
func decodeEnvelope(plain []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(plain, &e); err != nil {
		return envelope{}, fmt.Errorf("%w: payload is not JSON: %v", ErrInvalid, err)
	}
	return e, nil
}
