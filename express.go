package cookiesession

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// This file holds FormatExpress: the cookies of the npm package
// cookie-session, signed by Keygrip.

// keygrip signs data as Keygrip does: HMAC-SHA1, base64url without padding.
func keygrip(key []byte, data string) string {
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sealExpress returns "VALUE.SIG" for the chunker to store in NAME and
// NAME.sig.
func (r keyRing) sealExpress(name string, plain []byte) string {
	value := base64.StdEncoding.EncodeToString(plain)
	return value + "." + keygrip(r[0].raw, name+"="+value)
}

// openExpress verifies "VALUE.SIG" with every key, in constant time as
// Keygrip does.
func (r keyRing) openExpress(name, joined string) ([]byte, int, error) {
	dot := strings.LastIndexByte(joined, '.')
	if dot < 0 {
		return nil, 0, errNotVerified
	}
	value, sig := joined[:dot], []byte(joined[dot+1:])
	for i := range r {
		if hmac.Equal([]byte(keygrip(r[i].raw, name+"="+value)), sig) {
			plain, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: value is not base64", ErrInvalid)
			}
			return plain, i, nil
		}
	}
	return nil, 0, errNotVerified
}

// flashKey is where connect-flash keeps messages in an Express session.
const flashKey = "flash"

// appendExpressJSON writes the session as cookie-session stores it: the
// values as the top-level object, in the order they were set.
func (e *envelope) appendExpressJSON(b []byte) []byte {
	fields := e.Values
	if len(e.Flashes) > 0 {
		flash, _ := json.Marshal(map[string][]string{"info": e.Flashes}) // strings always marshal
		fields = append(slices.Clip(fields), field{flashKey, string(flash)})
	}
	return append(appendFields(append(b, '{'), fields), '}')
}

// parseExpress reads a cookie-session JSON object into an envelope's values
// and flashes; the caller sets the times.
func parseExpress(data []byte) (envelope, error) {
	var e envelope
	fields, err := parseFields(data)
	if err != nil {
		return envelope{}, fmt.Errorf("%w: not a cookie-session object: %v", ErrInvalid, err)
	}
	for _, f := range fields {
		var byType map[string][]string
		if f.key == flashKey && json.Unmarshal([]byte(f.raw), &byType) == nil {
			for _, kind := range slices.Sorted(maps.Keys(byType)) {
				e.Flashes = append(e.Flashes, byType[kind]...)
			}
			continue
		}
		e.Values = append(e.Values, f)
	}
	return e, nil
}
