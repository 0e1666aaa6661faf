package cookiesession

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/securecookie"
)

// This file reads the cookies of gorilla/sessions' CookieStore, so that an
// application moving from it logs nobody out: each such cookie is opened
// once, converted to a session of ours and re-issued in the configured
// format on the same response.
//
// A migrated session is a session like any other: it was created when the
// gorilla cookie was last written (securecookie's signed timestamp), it
// ends no later than the store's MaxAge after that, and its ID is derived
// from the cookie, so every copy of one gorilla cookie is the same session
// and NotBefore and every kind of revocation apply to it.

// GorillaCookies describes the CookieStore whose cookies a Manager reads
// (Options.Gorilla). Its cookie name is Options.Name: give the name the
// application passed to store.Get.
type GorillaCookies struct {
	// KeyPairs are the store's keys exactly as given to
	// sessions.NewCookieStore: hash key, block key, hash key, block key...,
	// newest pair first. A nil block key means the store only signed.
	KeyPairs [][]byte

	// MaxAge is the store's Options.MaxAge: 30 days by default, as in
	// NewCookieStore. A migrated session ends MaxAge after its gorilla
	// cookie was written, or Options.MaxAge after, whichever is sooner.
	MaxAge time.Duration

	// JSON says the store's codecs were given securecookie.JSONEncoder;
	// by default they use gob, as CookieStore does. With gob, the types
	// the application registered with gob.Register must be registered in
	// this process too, as they were for gorilla/sessions.
	JSON bool
}

// formatGorilla marks a session read from a gorilla/sessions cookie. It is
// never written: such a session is re-issued in the Manager's format.
const formatGorilla BuiltinFormat = -1

// gorillaFlashes is where gorilla/sessions keeps flash messages.
const gorillaFlashes = "_flash"

// gorillaCodecs builds the store's codecs and reports bad keys now, rather
// than on the first request.
func gorillaCodecs(g *GorillaCookies) ([]securecookie.Codec, error) {
	if len(g.KeyPairs) == 0 || len(g.KeyPairs[0]) == 0 {
		return nil, errors.New("cookiesession: Gorilla needs the store's key pairs")
	}
	if g.MaxAge < 0 {
		return nil, fmt.Errorf("cookiesession: negative Gorilla.MaxAge %s", g.MaxAge)
	}
	codecs := securecookie.CodecsFromPairs(g.KeyPairs...)
	maxAge := int(gorillaMaxAge(g) / time.Second)
	for i, c := range codecs {
		sc := c.(*securecookie.SecureCookie)
		sc.MaxAge(maxAge)
		if g.JSON {
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
		if _, err := sc.Encode("probe", map[string]any{}); err != nil {
			return nil, fmt.Errorf("cookiesession: Gorilla key pair %d: %w", i, err)
		}
	}
	return codecs, nil
}

func gorillaMaxAge(g *GorillaCookies) time.Duration {
	return cmp.Or(g.MaxAge, 30*24*time.Hour)
}

// openGorilla reads a CookieStore value and converts it to an envelope,
// or reports why it cannot be: a value that does not verify, or one that
// does but holds what a JSON session cannot (a key that is not a string, a
// value JSON cannot encode, a flash message that is not a string). The
// reasons name types, never a key or a value from the cookie.
func (m *Manager) openGorilla(value string) (envelope, error) {
	values := map[any]any{}
	var err error
	if m.gorilla.JSON {
		var byName map[string]any
		err = securecookie.DecodeMulti(m.name, value, &byName, m.gorillaCodecs...)
		for k, v := range byName {
			values[k] = v
		}
	} else {
		err = securecookie.DecodeMulti(m.name, value, &values, m.gorillaCodecs...)
	}
	if err != nil {
		if verifiedButUndecodable(err) {
			return envelope{}, cannotMigrate("it verified, but its values could not be decoded (is every type it holds registered with gob.Register, as for gorilla/sessions?)")
		}
		return envelope{}, errNotVerified
	}
	// Verified: the decoded value is the signed "<time>|<value>|<MAC>".
	signed, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		return envelope{}, errNotVerified
	}
	written, err := gorillaTimestamp(signed)
	if err != nil {
		return envelope{}, err
	}
	e := envelope{ID: gorillaID(m.name, signed), Expires: written.Add(min(gorillaMaxAge(m.gorilla), m.maxAge)).Unix()}
	e.setCreated(written)
	for k, v := range values {
		key, ok := k.(string)
		if !ok {
			return envelope{}, cannotMigrate("a key is a %T, not a string", k)
		}
		if key == gorillaFlashes {
			if e.Flashes, err = gorillaFlashMessages(v); err != nil {
				return envelope{}, err
			}
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return envelope{}, cannotMigrate("a value of type %T cannot be stored as JSON", v)
		}
		e.Values = append(e.Values, field{key, string(raw)})
	}
	// Map order is random; a stable order keeps the cookie stable.
	slices.SortFunc(e.Values, func(a, b field) int { return cmp.Compare(a.key, b.key) })
	return e, nil
}

// gorillaTimestamp returns when a verified securecookie value was written,
// from its decoded form "<Unix seconds>|<value>|<MAC>": the MAC covers
// the time.
func gorillaTimestamp(signed []byte) (time.Time, error) {
	date, _, _ := bytes.Cut(signed, []byte("|"))
	secs, err := strconv.ParseInt(string(date), 10, 64)
	if err != nil {
		return time.Time{}, errNotVerified
	}
	return time.Unix(secs, 0), nil
}

// gorillaID derives the migrated session's ID from the verified cookie, so
// that every copy of one gorilla cookie is the same session, which one
// revocation ends. It hashes the decoded bytes, not the cookie's text:
// securecookie's decoder ignores the unused bits of the last base64
// character, so several texts carry one cookie. Like a new session's, the
// ID is 16 bytes in base64url; a hash tells nothing of the cookie, and the
// cookie name keeps apart the IDs of different applications' cookies.
func gorillaID(name string, signed []byte) string {
	h := sha256.New()
	h.Write([]byte("cookiesession gorilla/sessions migration\x00" + name + "\x00"))
	h.Write(signed)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// verifiedButUndecodable reports whether securecookie verified a value
// but could not deserialize it. Of its decode errors only two carry a
// cause: that one, and base64 that does not decode, before any MAC.
func verifiedButUndecodable(err error) bool {
	var multi securecookie.MultiError
	if !errors.As(err, &multi) {
		return false
	}
	for _, e := range multi {
		var sc securecookie.Error
		var notBase64 base64.CorruptInputError
		if errors.As(e, &sc) && sc.IsDecode() && sc.Cause() != nil && !errors.As(sc.Cause(), &notBase64) {
			return true
		}
	}
	return false
}

// migrationError reports a verified gorilla/sessions cookie that cannot be
// migrated. It matches ErrInvalid, so the request gets a new session, and
// the Manager logs it as a warning: it is the application's data, not an
// attack.
type migrationError struct{ reason string }

func (e *migrationError) Error() string {
	return "cookiesession: cannot migrate a gorilla/sessions cookie: " + e.reason
}

func (e *migrationError) Is(target error) bool { return target == ErrInvalid }

func cannotMigrate(format string, args ...any) error {
	return &migrationError{fmt.Sprintf(format, args...)}
}

func gorillaFlashMessages(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, cannotMigrate("flashes are a %T", v)
	}
	msgs := make([]string, len(list))
	for i, f := range list {
		if msgs[i], ok = f.(string); !ok {
			return nil, cannotMigrate("a flash message is a %T, not a string", f)
		}
	}
	return msgs, nil
}
