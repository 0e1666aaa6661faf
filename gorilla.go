package cookiesession

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gorilla/securecookie"
)

// This file reads the cookies of gorilla/sessions' CookieStore, so that an
// application moving from it logs nobody out: each such cookie is opened
// once, converted to a session of ours and re-issued in the configured
// format on the same response.

// GorillaCookies describes the CookieStore whose cookies a Manager reads
// (Options.Gorilla). Its cookie name is Options.Name: give the name the
// application passed to store.Get.
type GorillaCookies struct {
	// KeyPairs are the store's keys exactly as given to
	// sessions.NewCookieStore: hash key, block key, hash key, block key...,
	// newest pair first. A nil block key means the store only signed.
	KeyPairs [][]byte

	// MaxAge is the store's Options.MaxAge, whose timestamp check
	// securecookie applies: 30 days by default, as in NewCookieStore.
	MaxAge time.Duration

	// JSON says the store's codecs were given securecookie.JSONEncoder;
	// by default they use gob, as CookieStore does. With gob, the types
	// the application registered with gob.Register must be registered in
	// this process too, as they were for gorilla/sessions.
	JSON bool
}

// formatGorilla marks a session read from a gorilla/sessions cookie. It is
// never written: such a session is re-issued in the Manager's format.
const formatGorilla Format = -1

// gorillaFlashes is where gorilla/sessions keeps flash messages.
const gorillaFlashes = "_flash"

// gorillaCodecs builds the store's codecs and reports bad keys now, rather
// than on the first request.
func gorillaCodecs(g *GorillaCookies) ([]securecookie.Codec, error) {
	if len(g.KeyPairs) == 0 || len(g.KeyPairs[0]) == 0 {
		return nil, errors.New("cookiesession: Gorilla needs the store's key pairs")
	}
	codecs := securecookie.CodecsFromPairs(g.KeyPairs...)
	maxAge := int(g.MaxAge / time.Second)
	if g.MaxAge == 0 {
		maxAge = 86400 * 30
	}
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

// openGorilla reads a CookieStore value and converts it to an envelope,
// or reports why it cannot be: a value that does not verify, or one that
// does but holds what a JSON session cannot (a key that is not a string, a
// value JSON cannot encode, a flash message that is not a string).
func (m *Manager) openGorilla(value string, now time.Time) (envelope, error) {
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
		return envelope{}, errNotVerified
	}
	e := envelope{Expires: now.Add(m.maxAge).Unix()}
	e.setCreated(now)
	for k, v := range values {
		key, ok := k.(string)
		if !ok {
			return envelope{}, cannotMigrate("key %v is a %T, not a string", k, k)
		}
		if key == gorillaFlashes {
			if e.Flashes, err = gorillaFlashMessages(v); err != nil {
				return envelope{}, err
			}
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return envelope{}, cannotMigrate("value for %q cannot be stored as JSON: %v", key, err)
		}
		e.Values = append(e.Values, field{key, string(raw)})
	}
	// Map order is random; a stable order keeps the cookie stable.
	slices.SortFunc(e.Values, func(a, b field) int { return cmp.Compare(a.key, b.key) })
	return e, nil
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
