package django

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/harness"
)

// testSecret returns a 64-character SECRET_KEY made from seed.
func testSecret(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

var (
	keyNew = testSecret("new")
	keyOld = testSecret("old")
)

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
	if out, err := exec.Command("/usr/bin/python3", "-c", "import django, sys; sys.exit(django.VERSION[:2] != (3, 2))").CombinedOutput(); err != nil {
		return "Django 3.2 is not installed for /usr/bin/python3 (apt-get install python3-django): " + strings.TrimSpace(string(out))
	}
	return ""
})

// startDjango runs testdata/django/session.py: Django 3.2's
// signed_cookies backend for the cookie called name.
func startDjango(t *testing.T, name string) *harness.Process {
	t.Helper()
	harness.Need(t, "Django", djangoMissing())
	return harness.Start(t, "/usr/bin/python3", "testdata/django/session.py", name)
}

func newTestCodec(t testing.TB, secrets ...string) *codec {
	t.Helper()
	raw := make([][]byte, len(secrets))
	for i, s := range secrets {
		raw[i] = []byte(s)
	}
	c, err := newCodec(raw, DefaultCookieAge)
	require.NoError(t, err)
	return c
}

// authSession is what django.contrib.auth.login leaves in a session.
var authSession = map[string]any{
	"_auth_user_id":      "42",
	"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
	"_auth_user_hash":    "9c1f2e4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
	"cart":               []any{"Zoë", "😀"},
}

func TestDjangoWritesCodecReads(t *testing.T) {
	py := startDjango(t, "sessionid")
	// Django compresses when that saves more than a byte, which a
	// session as small as the one login leaves already does.
	for name, session := range map[string]map[string]any{"auth (compressed)": authSession, "tiny": {"n": 1}} {
		t.Run(name, func(t *testing.T) {
			var sealed djangoAnswer
			py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: session}, &sealed)
			assert.Equal(t, name != "tiny", strings.HasPrefix(sealed.Cookie, "."))
			got, err := newTestCodec(t, keyNew).open(sealed.Cookie, time.Now())
			require.NoError(t, err)
			assert.JSONEq(t, mustJSON(t, session), string(got.json))
			assert.WithinDuration(t, time.Now(), got.signed, 2*time.Second)
			assert.Equal(t, 0, got.key)
		})
	}

	t.Run("rotated: the Go side reads with its fallback secret", func(t *testing.T) {
		var sealed djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyOld, Session: authSession}, &sealed)
		got, err := newTestCodec(t, keyNew, keyOld).open(sealed.Cookie, time.Now())
		require.NoError(t, err)
		assert.Equal(t, 1, got.key)
		_, err = newTestCodec(t, keyNew).open(sealed.Cookie, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("pickle is refused unread", func(t *testing.T) {
		var sealed djangoAnswer
		py.Do(djangoRequest{Op: "seal", SecretKey: keyNew, Session: authSession, Serializer: "pickle"}, &sealed)
		_, err := newTestCodec(t, keyNew).open(sealed.Cookie, time.Now())
		assert.ErrorIs(t, err, ErrPickle)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})
}

func TestCodecWritesDjangoReads(t *testing.T) {
	py := startDjango(t, "sessionid")
	c := newTestCodec(t, keyNew)
	for name, session := range map[string]string{
		"auth (compressed)": mustJSON(t, authSession),
		"tiny":              `{"n":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			v, err := c.seal([]byte(session), time.Now())
			require.NoError(t, err)
			assert.Equal(t, name != "tiny", strings.HasPrefix(v, "."))
			var got djangoAnswer
			py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: v}, &got)
			require.True(t, got.Valid)
			assert.JSONEq(t, session, mustJSON(t, got.Session))
		})
	}

	t.Run("expired on Django's side", func(t *testing.T) {
		v, err := c.seal([]byte(mustJSON(t, authSession)), time.Now().Add(-time.Hour-time.Second))
		require.NoError(t, err)
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: v, CookieAge: 3600}, &got)
		assert.False(t, got.Valid)
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: v, CookieAge: 3602}, &got)
		assert.True(t, got.Valid)
	})

	t.Run("tampered", func(t *testing.T) {
		v, err := c.seal([]byte(`{"_auth_user_id":"1"}`), time.Now())
		require.NoError(t, err)
		payload, rest, _ := strings.Cut(v, ":")
		forged, err := c.seal([]byte(`{"_auth_user_id":"2"}`), time.Now())
		require.NoError(t, err)
		forgedPayload, _, _ := strings.Cut(forged, ":")
		require.NotEqual(t, payload, forgedPayload)
		var got djangoAnswer
		py.Do(djangoRequest{Op: "open", SecretKey: keyNew, Cookie: forgedPayload + ":" + rest}, &got)
		assert.False(t, got.Valid)
		_, err = c.open(forgedPayload+":"+rest, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
