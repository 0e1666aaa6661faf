package cookiesession

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/internal/harness"
)

func newExpressManager(t *testing.T, keys ...string) *Manager {
	t.Helper()
	raw := make([][]byte, len(keys))
	for i, k := range keys {
		raw[i] = []byte(k)
	}
	m, _ := newTestManager(t, Options{Format: FormatExpress, Secrets: raw, Logger: debugLogger(&bytes.Buffer{})})
	return m
}

// cookiesOf returns the name=value pairs of Set-Cookie lines as a Cookie
// header, leaving out deletions.
func cookiesOf(lines []string) string {
	var parts []string
	for _, l := range lines {
		c, err := http.ParseSetCookie(l)
		if err == nil && c.MaxAge >= 0 {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

func TestExpressGoldenVector(t *testing.T) {
	m := newExpressManager(t, "a")
	s := m.LoadHeader()
	s.Set("message", "hi")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	assert.Equal(t, "session=eyJtZXNzYWdlIjoiaGkifQ==; session.sig=vdp2-kj-91tgzbWcV1QzofT3hu0", cookiesOf(lines))

	s = m.LoadHeader("session=eyJtZXNzYWdlIjoiaGkifQ==; session.sig=vdp2-kj-91tgzbWcV1QzofT3hu0")
	msg, ok := Value[string](s, "message")
	assert.True(t, ok)
	assert.Equal(t, "hi", msg)
	assert.Empty(t, s.ID(), "Express sessions have no ID")
}

func TestExpressBehaviour(t *testing.T) {
	m := newExpressManager(t, "new-key", "old-key")
	old := newExpressManager(t, "old-key")
	b := issue(t, old, func(s *Session) { s.Set("user", 7); s.AddFlash("hello") })
	require.Equal(t, []string{"session", "session.sig"}, b.names())

	t.Run("flashes live where connect-flash keeps them", func(t *testing.T) {
		plain, err := base64.StdEncoding.DecodeString(b["session"].Value)
		require.NoError(t, err)
		assert.JSONEq(t, `{"user":7,"flash":{"info":["hello"]}}`, string(plain))
	})

	t.Run("old key: both cookies re-issued with the new key and all attributes", func(t *testing.T) {
		c := browser{"session": b["session"], "session.sig": b["session.sig"]}
		resp := c.visit(m, func(_ http.ResponseWriter, s *Session) {
			v, _ := Value[int](s, "user")
			assert.Equal(t, 7, v)
			assert.Equal(t, []string{"hello"}, s.Flashes())
		})
		assert.Equal(t, []string{"session", "session.sig"}, written(resp))
		for _, ck := range resp.Cookies() {
			assert.True(t, ck.HttpOnly)
			assert.True(t, ck.Secure)
			assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
			assert.Equal(t, "/", ck.Path)
			assert.Equal(t, 86400, ck.MaxAge)
		}
		newOnly := newExpressManager(t, "new-key")
		c.visit(newOnly, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	})

	for name, header := range map[string]string{
		"tampered signature": "session=" + b["session"].Value + "; session.sig=" + strings.ToUpper(b["session.sig"].Value),
		"tampered value":     "session=" + strings.Replace(b["session"].Value, "e", "f", 1) + "; session.sig=" + b["session.sig"].Value,
		"no signature":       "session=" + b["session"].Value,
		"signature only":     "session.sig=" + b["session.sig"].Value,
		"unknown key":        issue(t, newExpressManager(t, "other"), func(s *Session) { s.Set("user", 1) }).header(),
	} {
		t.Run(name, func(t *testing.T) {
			resp := serve(m, header, func(_ http.ResponseWriter, s *Session) {
				assert.True(t, s.IsNew())
				assert.Empty(t, s.Keys())
			})
			assert.ElementsMatch(t, sessionNamesExpress(header), deleted(resp))
		})
	}

	t.Run("destroy deletes both cookies", func(t *testing.T) {
		c := browser{"session": b["session"], "session.sig": b["session.sig"]}
		resp := c.visit(old, func(_ http.ResponseWriter, s *Session) { s.Destroy() })
		assert.Equal(t, []string{"session", "session.sig"}, deleted(resp))
	})

	t.Run("too large is an error, not a dropped cookie", func(t *testing.T) {
		s := m.LoadHeader()
		s.Set("blob", randomText(3500))
		_, err := m.SaveHeader(s)
		var se *SizeError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 1, se.MaxChunks)
	})
}

func sessionNamesExpress(header string) []string {
	var names []string
	for _, part := range strings.Split(header, ";") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
		if name == "session" || name == "session.sig" {
			names = append(names, name)
		}
	}
	return names
}

func TestExpressOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"IdleTimeout": {IdleTimeout: 1},
		"Revocations": {Revocations: NewMemoryRevocations()},
		"Compress":    {Compress: true},
		"MaxChunks":   {MaxChunks: 2},
	} {
		t.Run(name, func(t *testing.T) {
			opts.Format, opts.Secrets = FormatExpress, [][]byte{[]byte("k")}
			_, err := New(opts)
			assert.ErrorContains(t, err, "FormatExpress")
		})
	}
	var logs bytes.Buffer
	_, err := New(Options{Format: FormatExpress, Secrets: [][]byte{[]byte("short")}, Logger: debugLogger(&logs)})
	require.NoError(t, err, "Express keys are used as they are")
	assert.Contains(t, logs.String(), "secret is short")
	_, err = New(Options{Format: FormatExpress, Secrets: [][]byte{{}}})
	assert.ErrorIs(t, err, ErrWeakSecret)
}

// expressApp is the real npm cookie-session, in testdata/express.
type expressApp struct {
	t   *testing.T
	url string
}

// startExpress runs testdata/express/app.js with keys. Without node or the
// installed packages the test is skipped, unless CI is set.
func startExpress(t *testing.T, keys ...string) *expressApp {
	t.Helper()
	return &expressApp{t, harness.StartNode(t, "Express", "express", "cookie-session", "npm ci", "KEYS="+strings.Join(keys, ","))}
}

// get requests path with the Cookie header and returns the session JSON
// Express answers and the Cookie header of what it set.
func (e *expressApp) get(path, cookie string) (map[string]any, string) {
	e.t.Helper()
	var session map[string]any
	h := harness.Get(e.t, e.url+path, cookie, &session)
	return session, cookiesOf(h.Values("Set-Cookie"))
}

func TestExpressInterop(t *testing.T) {
	const key, newKey, oldKey = "express-key-one", "express-key-new", "express-key-old"

	t.Run("Express sets, Go reads and modifies, Express reads it", func(t *testing.T) {
		app := startExpress(t, key)
		m := newExpressManager(t, key)
		_, cookie := app.get("/set?message=hi", "")
		require.Contains(t, cookie, "session.sig=")

		s := m.LoadHeader(cookie)
		msg, _ := Value[string](s, "message")
		assert.Equal(t, "hi", msg)
		s.Set("message", "from go; with \"quotes\" and é")
		s.Set("n", 5)
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)

		session, _ := app.get("/get", cookiesOf(lines))
		assert.Equal(t, map[string]any{"message": "from go; with \"quotes\" and é", "n": float64(5)}, session)
	})

	t.Run("rotation, Go to Express", func(t *testing.T) {
		app := startExpress(t, newKey, oldKey)
		m := newExpressManager(t, oldKey)
		s := m.LoadHeader()
		s.Set("message", "sealed with the old key")
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		session, _ := app.get("/get", cookiesOf(lines))
		assert.Equal(t, "sealed with the old key", session["message"])
	})

	t.Run("rotation, Express to Go and back", func(t *testing.T) {
		oldApp := startExpress(t, oldKey)
		_, cookie := oldApp.get("/set?message=old", "")

		m := newExpressManager(t, newKey, oldKey)
		s := m.LoadHeader(cookie)
		msg, _ := Value[string](s, "message")
		assert.Equal(t, "old", msg)
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		require.Len(t, lines, 2, "re-issued with the new key")

		newApp := startExpress(t, newKey)
		session, _ := newApp.get("/get", cookiesOf(lines))
		assert.Equal(t, "old", session["message"], "Express with the new key alone reads Go's re-issued cookies")
	})

	t.Run("a tampered signature is rejected by both", func(t *testing.T) {
		app := startExpress(t, key)
		_, cookie := app.get("/set?message=secret", "")
		tampered := strings.Replace(cookie, "session.sig=", "session.sig=x", 1)

		session, _ := app.get("/get", tampered)
		assert.Empty(t, session, "Express ignores it")
		s := newExpressManager(t, key).LoadHeader(tampered)
		assert.True(t, s.IsNew(), "Go ignores it")
		assert.Empty(t, s.Keys())
	})
}
