// Package migration tests moving from gorilla/sessions to cookiesession
// against the real gorilla/sessions, in a module of its own so that the
// library's go.mod never requires it.
package migration

import (
	"bytes"
	"encoding/gob"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cart is an application type stored in the session; gorilla/sessions
// needs it registered with gob, and so does the migration.
type Cart struct {
	Items []string
	Total float64
}

// A gorilla/sessions application registers what it stores in interface
// values; the migrating process must register the same.
func init() {
	gob.Register(Cart{})
	gob.Register(time.Time{})
	gob.Register(map[string]any{})
	gob.Register([]any{})
	gob.Register(undecodable{})
}

var (
	hashOld, blockOld = []byte("old-hash-key-0123456789abcdefghij"), []byte("old-block-key-0123456789abcdefgh")
	hashNew, blockNew = []byte("new-hash-key-0123456789abcdefghij"), []byte("new-block-key-0123456789abcdefgh")
	ourKey            = []byte("cookiesession-key-0001-use-GenerateSecret-instead")
)

// gorillaCookie returns the Cookie header that gorilla/sessions' store
// writes for a session named "session" after fill changed it.
func gorillaCookie(t *testing.T, store *sessions.CookieStore, fill func(s *sessions.Session)) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := store.New(req, "session")
	require.NoError(t, err)
	fill(s)
	require.NoError(t, s.Save(req, rec))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	return "session=" + cookies[0].Value
}

// migrating returns a Manager that reads the store's cookies, with both of
// its key pairs, newest first, and a log of what it says.
func migrating(t *testing.T, logs *bytes.Buffer, format cookiesession.Format) *cookiesession.Manager {
	t.Helper()
	m, err := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{ourKey},
		Format:  format,
		Gorilla: &cookiesession.GorillaCookies{KeyPairs: [][]byte{hashNew, blockNew, hashOld, blockOld}},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	return m
}

func TestMigrateFromGorilla(t *testing.T) {
	when := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fill := func(s *sessions.Session) {
		s.Values["name"] = "ada"
		s.Values["visits"] = 42
		s.Values["admin"] = true
		s.Values["since"] = when
		s.Values["cart"] = Cart{Items: []string{"book", "pen"}, Total: 12.5}
		s.Values["prefs"] = map[string]any{"theme": "dark", "sizes": []any{"s", "m"}}
		s.AddFlash("welcome back")
		s.AddFlash("your order shipped")
	}
	// Cookies made before the key rotation and after it.
	for name, store := range map[string]*sessions.CookieStore{
		"old key pair": sessions.NewCookieStore(hashOld, blockOld),
		"new key pair": sessions.NewCookieStore(hashNew, blockNew, hashOld, blockOld),
	} {
		for _, format := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatCompact} {
			t.Run(name+"/"+format.String(), func(t *testing.T) {
				var logs bytes.Buffer
				m := migrating(t, &logs, format)
				cookie := gorillaCookie(t, store, fill)
				in, err := m.Inspect(cookie)
				require.NoError(t, err)
				assert.Equal(t, "gorilla/sessions", in.Format.String())

				var reissued []string
				h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := m.FromContext(r.Context())
					assert.False(t, s.IsNew(), "nobody is logged out")
					name, _ := cookiesession.Value[string](s, "name")
					visits, _ := cookiesession.Value[int](s, "visits")
					admin, _ := cookiesession.Value[bool](s, "admin")
					since, _ := cookiesession.Value[time.Time](s, "since")
					cart, _ := cookiesession.Value[Cart](s, "cart")
					prefs, _ := cookiesession.Value[map[string]any](s, "prefs")
					assert.Equal(t, "ada", name)
					assert.Equal(t, 42, visits)
					assert.True(t, admin)
					assert.True(t, when.Equal(since))
					assert.Equal(t, Cart{Items: []string{"book", "pen"}, Total: 12.5}, cart)
					assert.Equal(t, map[string]any{"theme": "dark", "sizes": []any{"s", "m"}}, prefs)
					assert.Equal(t, []string{"welcome back", "your order shipped"}, s.Flashes())
				}))
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				for _, c := range rec.Result().Cookies() {
					reissued = append(reissued, c.Name+"="+c.Value)
				}
				require.Len(t, reissued, 1, "re-issued in our format on the same response")

				// The re-issued cookie opens without the gorilla keys.
				plain, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{ourKey}, Format: format})
				require.NoError(t, err)
				in, err = plain.Inspect(reissued[0])
				require.NoError(t, err)
				assert.Equal(t, format, in.Format)
				assert.JSONEq(t, `{"Items":["book","pen"],"Total":12.5}`, string(in.Values["cart"]))
				assert.Empty(t, in.Flashes, "the flashes were read on the migrating request")
				assert.Empty(t, logs.String())
			})
		}
	}
}

// TestGorillaCookiesThatCannotMigrate: a verified cookie whose data a JSON
// session cannot hold gives a new session and a logged warning naming the
// reason, never half a session.
func TestGorillaCookiesThatCannotMigrate(t *testing.T) {
	store := sessions.NewCookieStore(hashNew, blockNew)
	for name, tc := range map[string]struct {
		fill   func(s *sessions.Session)
		reason string
	}{
		"key that is not a string":     {func(s *sessions.Session) { s.Values["ok"] = 1; s.Values[7] = "seven" }, "a key is a int, not a string"},
		"value JSON cannot encode":     {func(s *sessions.Session) { s.Values["ratio"] = math.NaN() }, "a value of type float64 cannot be stored as JSON"},
		"flash that is not a string":   {func(s *sessions.Session) { s.AddFlash(3) }, "a flash message is a int"},
		"value gob cannot decode here": {func(s *sessions.Session) { s.Values["secret-name"] = undecodable{"secret-value"} }, "registered with gob.Register"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			m := migrating(t, &logs, cookiesession.FormatSecureCookie)
			s := m.LoadHeader(gorillaCookie(t, store, tc.fill))
			assert.True(t, s.IsNew())
			assert.Empty(t, s.Keys(), "nothing half-migrated")
			assert.Contains(t, logs.String(), "cannot migrate a gorilla/sessions cookie")
			assert.Contains(t, logs.String(), tc.reason)
			for _, content := range []string{"seven", "ratio", "NaN", "secret"} {
				assert.NotContains(t, logs.String(), content, "the log names no key or value of the cookie")
			}
		})
	}
	t.Run("another store's keys", func(t *testing.T) {
		var logs bytes.Buffer
		m := migrating(t, &logs, cookiesession.FormatSecureCookie)
		other := sessions.NewCookieStore([]byte("another-hash-key-0123456789abcdef"), nil)
		s := m.LoadHeader(gorillaCookie(t, other, func(s *sessions.Session) { s.Values["a"] = 1 }))
		assert.True(t, s.IsNew())
		assert.NotContains(t, logs.String(), "migrate", "an unverified cookie is an attack or noise, not a migration problem")
	})
	t.Run("past the store's MaxAge", func(t *testing.T) {
		m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{ourKey},
			Gorilla: &cookiesession.GorillaCookies{KeyPairs: [][]byte{hashNew, blockNew}, MaxAge: time.Second}})
		require.NoError(t, err)
		cookie := gorillaCookie(t, store, func(s *sessions.Session) { s.Values["a"] = 1 })
		time.Sleep(2100 * time.Millisecond) // securecookie counts whole seconds
		assert.True(t, m.LoadHeader(cookie).IsNew())
	})
}

// undecodable is a value that gorilla/sessions stored but this process
// cannot decode, as when the migrating process did not register a type.
// gob's registry is per process, so the test fails the decoding instead.
type undecodable struct{ Secret string }

func (u undecodable) GobEncode() ([]byte, error) { return []byte(u.Secret), nil }
func (u *undecodable) GobDecode([]byte) error    { return errors.New("cannot decode here") }

// TestMigratedSessionObeysRevocation: every copy of one gorilla cookie is
// the same session, created when the cookie was written, so logging it
// out refuses every copy. (The root package's tests age cookies with a
// clock, for NotBefore and RevokeAll.)
func TestMigratedSessionObeysRevocation(t *testing.T) {
	list := cookiesession.NewMemoryRevocations()
	m, err := cookiesession.New(cookiesession.Options{
		Secrets:     [][]byte{ourKey},
		Gorilla:     &cookiesession.GorillaCookies{KeyPairs: [][]byte{hashNew, blockNew}, MaxAge: time.Hour},
		Revocations: list,
	})
	require.NoError(t, err)
	store := sessions.NewCookieStore(hashNew, blockNew)
	cookie := gorillaCookie(t, store, func(s *sessions.Session) { s.Values["user"] = "ada" })
	written := time.Now()

	in, err := m.Inspect(cookie)
	require.NoError(t, err)
	again, err := m.Inspect(cookie)
	require.NoError(t, err)
	assert.Equal(t, in.ID, again.ID, "one cookie, one session")
	assert.Len(t, in.ID, 22)
	assert.WithinDuration(t, written, in.Created, 2*time.Second, "created when the gorilla cookie was written")
	assert.Equal(t, in.Created.Add(time.Hour), in.Expires, "ending when the store's MaxAge does")
	otherCookie := gorillaCookie(t, store, func(s *sessions.Session) { s.Values["user"] = "ada" })
	other, err := m.Inspect(otherCookie)
	require.NoError(t, err)
	assert.NotEqual(t, in.ID, other.ID, "another cookie is another session")

	// Logout, on the request that migrates the session.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.Header.Set("Cookie", cookie)
	m.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		require.False(t, s.IsNew())
		require.NoError(t, m.RevokeSession(r.Context(), s))
	})).ServeHTTP(rec, req)
	_, err = m.Inspect(cookie)
	assert.ErrorIs(t, err, cookiesession.ErrRevoked, "a copy of the gorilla cookie is refused")
	_, err = m.Inspect(otherCookie)
	assert.NoError(t, err, "the user's other session lives on")
}

// TestGorillaJSONEncoder: a store whose codecs were given
// securecookie.JSONEncoder. gorilla/sessions' map of interface keys does
// not encode as JSON, so such stores hold string-keyed maps; the test
// writes one through the store's codecs as gorilla/sessions would.
func TestGorillaJSONEncoder(t *testing.T) {
	codecs := securecookie.CodecsFromPairs(hashNew, blockNew)
	codecs[0].(*securecookie.SecureCookie).SetSerializer(securecookie.JSONEncoder{})
	value, err := securecookie.EncodeMulti("session", map[string]any{"name": "ada", "visits": 3, "_flash": []any{"hi"}}, codecs...)
	require.NoError(t, err)
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{ourKey},
		Gorilla: &cookiesession.GorillaCookies{KeyPairs: [][]byte{hashNew, blockNew}, JSON: true}})
	require.NoError(t, err)
	s := m.LoadHeader("session=" + value)
	visits, _ := cookiesession.Value[int](s, "visits")
	assert.Equal(t, 3, visits)
	assert.Equal(t, []string{"hi"}, s.Flashes())
}

func TestGorillaOptionsAreCheckedAtNew(t *testing.T) {
	for name, g := range map[string]*cookiesession.GorillaCookies{
		"no keys":        {},
		"bad block key":  {KeyPairs: [][]byte{hashNew, []byte("seven b")}},
		"empty hash key": {KeyPairs: [][]byte{nil, blockNew}},
	} {
		_, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{ourKey}, Gorilla: g})
		assert.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "cookiesession: "), err)
	}
}
