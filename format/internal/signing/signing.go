// Package signing is what the cookies of Django's signing module and of
// itsdangerous, which descends from it, share: PAYLOAD SEP TIME SEP MAC,
// where the payload is the session's JSON in base64url, deflated behind a
// "." when that is shorter, and the MAC is an HMAC of what precedes it,
// tried under each key in turn. The formats differ in the separator, the
// hash and how the time is written: a Scheme.
package signing

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/inflate"
)

// Skew is how far in the future a signing time may lie (another host's
// clock a little ahead) before the cookie is refused.
const Skew = time.Minute

// Scheme is one format's choices.
type Scheme struct {
	Sep  byte
	Hash func() hash.Hash
	// AppendTime writes a time in Unix seconds; ParseTime reads one back,
	// or says what is wrong with it.
	AppendTime func(dst []byte, unix int64) []byte
	ParseTime  func(s string) (int64, error)
	// NotVerified is the error for a value no key verifies.
	NotVerified error
}

// Opened is a verified value.
type Opened struct {
	JSON   []byte    // the session, inflated
	Signed time.Time // when it was signed
	Key    int       // index of the key that verified it
}

// Sign returns the MAC of data under key, in base64url.
func (s Scheme) Sign(key []byte, data string) string {
	mac := hmac.New(s.Hash, key)
	mac.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Open verifies value under keys and returns what it holds. It does not
// check the age: the caller compares Signed and its lifetime with now.
func (s Scheme) Open(keys [][]byte, value string, now time.Time) (Opened, error) {
	cut := strings.LastIndexByte(value, s.Sep)
	if cut < 0 {
		return Opened{}, fmt.Errorf("%w: no signature", cookiesession.ErrInvalid)
	}
	signed, sig := value[:cut], []byte(value[cut+1:])
	key := -1
	for i, k := range keys {
		if hmac.Equal([]byte(s.Sign(k, signed)), sig) {
			key = i
			break
		}
	}
	if key < 0 {
		return Opened{}, s.NotVerified
	}
	cut = strings.LastIndexByte(signed, s.Sep)
	if cut < 0 {
		return Opened{}, fmt.Errorf("%w: no timestamp", cookiesession.ErrInvalid)
	}
	payload, stamp := signed[:cut], signed[cut+1:]
	ts, err := s.ParseTime(stamp)
	if err != nil {
		return Opened{}, fmt.Errorf("%w: %v", cookiesession.ErrInvalid, err)
	}
	if ts > now.Add(Skew).Unix() {
		return Opened{}, fmt.Errorf("%w: signed in the future", cookiesession.ErrInvalid)
	}
	compressed := strings.HasPrefix(payload, ".")
	data, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(payload, "."))
	if err != nil {
		return Opened{}, fmt.Errorf("%w: the payload is not base64url", cookiesession.ErrInvalid)
	}
	if compressed {
		if data, err = inflate.Zlib(data); err != nil {
			return Opened{}, fmt.Errorf("%w: the compressed payload: %v", cookiesession.ErrInvalid, err)
		}
	}
	return Opened{JSON: data, Signed: time.Unix(ts, 0), Key: key}, nil
}

// Seal signs data (the session's JSON) under key at now, deflated when
// that is shorter, as both libraries do.
func (s Scheme) Seal(key, data []byte, now time.Time) string {
	var payload string
	if z := deflate(data); len(z) < len(data)-1 {
		payload = "." + base64.RawURLEncoding.EncodeToString(z)
	} else {
		payload = base64.RawURLEncoding.EncodeToString(data)
	}
	signed := payload + string(s.Sep) + string(s.AppendTime(nil, now.Unix()))
	return signed + string(s.Sep) + s.Sign(key, signed)
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.DefaultCompression) // a valid level
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}
