package django_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/django"
	"github.com/cookiesession/cookiesession/internal/formattest"
	"github.com/cookiesession/cookiesession/internal/harness"
)

var (
	keyNew = formattest.HexSecret("new")
	keyOld = formattest.HexSecret("old")
)

const cookieName = "sessionid"

type djangoRequest struct {
	Op         string         `json:"op"`
	SecretKey  string         `json:"secret_key"`
	Session    map[string]any `json:"session,omitempty"`
	CookieAge  int            `json:"cookie_age,omitempty"`
	Now        int64          `json:"now,omitempty"`
	Serializer string         `json:"serializer,omitempty"`
	Cookie     string         `json:"cookie,omitempty"`
}

type djangoAnswer struct {
	Cookie  string         `json:"cookie"`
	MaxAge  int            `json:"max_age"`
	Valid   bool           `json:"valid"`
	Session map[string]any `json:"session"`
}

var djangoMissing = sync.OnceValue(func() string {
	return harness.Missing("Django 3.2 is not installed for /usr/bin/python3 (apt-get install python3-django)",
		"/usr/bin/python3", "-c", "import django, sys; sys.exit(django.VERSION[:2] != (3, 2))")
})

// startDjango runs testdata/django/session.py: Django 3.2's
// signed_cookies backend for the cookie called sessionid.
func startDjango(t *testing.T) *harness.Process {
	t.Helper()
	harness.Need(t, "Django", djangoMissing())
	return harness.Start(t, "/usr/bin/python3", "testdata/django/session.py", cookieName)
}

func newManager(t testing.TB, f django.Format, secrets ...string) *cookiesession.Manager {
	t.Helper()
	return formattest.New(t, cookiesession.Options{Format: f, Name: cookieName, MaxAge: django.DefaultCookieAge}, secrets...)
}

// authSession is what django.contrib.auth.login leaves in a session, and a
// cart.
var authSession = map[string]any{
	"_auth_user_id":      "42",
	"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
	"_auth_user_hash":    "9c1f2e4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
	"cart":               []any{"Zoë", "😀"},
}

// TestDjangoAndGoShareASession: Django writes a logged-in session; the Go
// side reads it, changes it; Django reads the change with its own keys
// intact. Django compresses when that saves more than a byte, which a
// session as small as this already does; a tiny one travels as it is.
func TestDjangoAndGoShareASession(t *testing.T) {
	py := startDjango(t)
	m := newManager(t, django.Format{}, keyNew)
	for name, session := range map[string]map[string]any{"compressed": authSession, "plain": {"n": 1}} {
		t.Run(name, func(t *testing.T) {
			var sealed djangoAnswer
			py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: session}, &sealed)
			assert.Equal(t, name == "compressed", strings.HasPrefix(sealed.Cookie, "."))
			s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
			require.False(t, s.IsNew())
			for k, v := range session {
				got, _ := cookiesession.Value[any](s, k)
				assert.Equal(t, formattest.JSON(t, v), formattest.JSON(t, got), k)
			}
			assert.Empty(t, s.ID(), "Django's sessions have no ID")
			assert.WithinDuration(t, time.Now().Add(django.DefaultCookieAge), s.Expires(), 3*time.Second)

			s.Set("seen_by", "Go ✓")
			lines, err := m.SaveHeader(s)
			require.NoError(t, err)
			var got djangoAnswer
			py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
			require.True(t, got.Valid)
			want := map[string]any{"seen_by": "Go ✓"}
			for k, v := range session {
				want[k] = v
			}
			assert.JSONEq(t, formattest.JSON(t, want), formattest.JSON(t, got.Session))
		})
	}
}

// TestGoWriteKeepsMaxAge: a session rewritten on the Go side is signed
// anew, so Django accepts it SESSION_COOKIE_AGE from now, but its cookie's
// Max-Age counts from the signing the Go side read.
func TestGoWriteKeepsMaxAge(t *testing.T) {
	py := startDjango(t)
	var sealed djangoAnswer
	py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: time.Now().Add(-time.Hour).Unix()}, &sealed)
	m := newManager(t, django.Format{}, keyNew)
	s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
	s.Set("n", 1)
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	c, err := http.ParseSetCookie(lines[0])
	require.NoError(t, err)
	assert.InDelta(t, (django.DefaultCookieAge - time.Hour).Seconds(), c.MaxAge, 5)
	var got djangoAnswer
	py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: c.Value, CookieAge: 3600, Now: time.Now().Add(30 * time.Minute).Unix()}, &got)
	assert.True(t, got.Valid, "signed anew")
}

// TestGoWritesDjangoReads: a session the Go side starts is one Django
// reads, until SESSION_COOKIE_AGE after the Go side signed it.
func TestGoWritesDjangoReads(t *testing.T) {
	py := startDjango(t)
	m := newManager(t, django.Format{CookieAge: time.Hour}, keyNew)
	s := m.LoadHeader()
	for k, v := range authSession {
		s.Set(k, v)
	}
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	value := formattest.Saved(t, lines, cookieName)
	var got djangoAnswer
	py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: value, CookieAge: 3600}, &got)
	require.True(t, got.Valid)
	assert.JSONEq(t, formattest.JSON(t, authSession), formattest.JSON(t, got.Session), "non-ASCII arrives intact")

	py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: value, CookieAge: 3600, Now: time.Now().Add(time.Hour + 2*time.Second).Unix()}, &got)
	assert.False(t, got.Valid, "Django refuses it SESSION_COOKIE_AGE after the Go side signed it")
}

func TestDjangoRotation(t *testing.T) {
	py := startDjango(t)

	t.Run("the Go side reads the old SECRET_KEY's cookie and re-issues it", func(t *testing.T) {
		var sealed djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyOld, Session: authSession}, &sealed)
		m := newManager(t, django.Format{}, keyNew, keyOld)
		s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
		require.False(t, s.IsNew())
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid, "Django with the new SECRET_KEY reads the re-issued cookie")
		assert.True(t, newManager(t, django.Format{}, keyNew).LoadHeader(cookieName+"="+sealed.Cookie).IsNew())
	})

	t.Run("Django 3.2 has no fallback keys", func(t *testing.T) {
		// SECRET_KEY_FALLBACKS arrived in Django 4.1: a 3.2 application
		// that changes its SECRET_KEY logs everyone out, whichever side
		// wrote the cookie.
		old := newManager(t, django.Format{}, keyOld)
		s := old.LoadHeader()
		s.Set("_auth_user_id", "1")
		lines, err := old.SaveHeader(s)
		require.NoError(t, err)
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.False(t, got.Valid)
	})
}

func TestDjangoRefusals(t *testing.T) {
	py := startDjango(t)
	m := newManager(t, django.Format{}, keyNew)

	t.Run("expired by SESSION_COOKIE_AGE", func(t *testing.T) {
		var sealed djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: time.Now().Add(-django.DefaultCookieAge - time.Minute).Unix()}, &sealed)
		formattest.Refused(t, m, cookieName+"="+sealed.Cookie, cookiesession.ErrExpired)
	})

	t.Run("pickle is refused unread", func(t *testing.T) {
		var sealed djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Serializer: "pickle"}, &sealed)
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: sealed.Cookie, Serializer: "pickle"}, &got)
		require.True(t, got.Valid, "Django itself reads it")
		_, err := m.Inspect(cookieName + "=" + sealed.Cookie)
		assert.ErrorIs(t, err, django.ErrPickle)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("NotBefore ends sessions last written before it", func(t *testing.T) {
		var older, newer djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: time.Now().Add(-20 * time.Minute).Unix()}, &older)
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession}, &newer)
		m := formattest.New(t, cookiesession.Options{Format: django.Format{}, Name: cookieName, MaxAge: django.DefaultCookieAge, NotBefore: time.Now().Add(-10 * time.Minute)}, keyNew)
		_, err := m.Inspect(cookieName + "=" + older.Cookie)
		assert.ErrorIs(t, err, cookiesession.ErrRevoked)
		assert.False(t, m.LoadHeader(cookieName+"="+newer.Cookie).IsNew())
	})

	t.Run("signed more than a minute in the Go side's future", func(t *testing.T) {
		var ahead, slightly djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: time.Now().Add(2 * time.Minute).Unix()}, &ahead)
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: time.Now().Add(30 * time.Second).Unix()}, &slightly)
		_, err := m.Inspect(cookieName + "=" + ahead.Cookie)
		assert.ErrorContains(t, err, "future")
		assert.False(t, m.LoadHeader(cookieName+"="+slightly.Cookie).IsNew())
	})

	t.Run("tampered", func(t *testing.T) {
		forged := formattest.Spliced(t, m, cookieName, ":", "_auth_user_id")
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: forged}, &got)
		assert.False(t, got.Valid)
		_, err := m.Inspect(cookieName + "=" + forged)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("secrets below Django's deployment check", func(t *testing.T) {
		_, err := cookiesession.New(cookiesession.Options{Format: django.Format{}, Secrets: [][]byte{[]byte(keyNew[:49])}})
		assert.ErrorIs(t, err, cookiesession.ErrWeakSecret)
		formattest.WeakSecretRefused(t, django.Format{}, keyNew, keyNew[:49], "Django SECRET_KEY")
	})

	t.Run("the client can read it: ScriptAccess is allowed", func(t *testing.T) {
		_, err := cookiesession.New(cookiesession.Options{Format: django.Format{}, Secrets: [][]byte{[]byte(keyNew)}, ScriptAccess: true})
		assert.NoError(t, err)
	})
}

// TestDjangoSigningTimeIsCreation: the signing time is the session's creation
// time, whatever Options.MaxAge is, so RevokeAll and NotBefore hold with
// the default MaxAge (a day, against Django's longer lifetime).
func TestDjangoSigningTimeIsCreation(t *testing.T) {
	py := startDjango(t)
	signed := time.Now().Add(-time.Hour).Truncate(time.Second)
	var sealed djangoAnswer
	py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Now: signed.Unix()}, &sealed)
	formattest.SigningTimeIsCreation(t, django.Format{}, cookieName, keyNew, cookieName+"="+sealed.Cookie, signed, django.DefaultCookieAge)
}
