package flask_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/flask"
	"github.com/cookiesession/cookiesession/internal/formattest"
	"github.com/cookiesession/cookiesession/internal/harness"
)

var (
	keyNew = formattest.HexSecret("new")
	keyOld = formattest.HexSecret("old")
)

const cookieName = "session"

type flaskRequest struct {
	Op         string         `json:"op"`
	SecretKeys []string       `json:"secret_keys"`
	Session    map[string]any `json:"session,omitempty"`
	Lifetime   int            `json:"lifetime,omitempty"`
	Now        int64          `json:"now,omitempty"`
	Cookie     string         `json:"cookie,omitempty"`
}

type flaskAnswer struct {
	Cookie    string         `json:"cookie"`
	SetCookie string         `json:"set_cookie"`
	Valid     bool           `json:"valid"`
	Session   map[string]any `json:"session"`
}

var flaskMissing = sync.OnceValue(func() string {
	const probe = "import flask, itsdangerous, sys; from importlib.metadata import version; sys.exit(not version('flask').startswith('2.2') or not itsdangerous.__version__.startswith('2.1'))"
	return harness.Missing("Flask 2.2 and itsdangerous 2.1 are not installed for /usr/bin/python3 (apt-get install python3-flask)", "/usr/bin/python3", "-c", probe)
})

// startFlask runs testdata/flask/session.py: a Flask 2.2 application's
// session cookie called session.
func startFlask(t *testing.T) *harness.Process {
	t.Helper()
	harness.Need(t, "Flask", flaskMissing())
	return harness.Start(t, "/usr/bin/python3", "testdata/flask/session.py", cookieName)
}

func newManager(t testing.TB, f flask.Format, secrets ...string) *cookiesession.Manager {
	t.Helper()
	return formattest.New(t, cookiesession.Options{Format: f, Name: cookieName, MaxAge: flask.DefaultLifetime}, secrets...)
}

// typed is a session holding each type Flask's tagged JSON marks, as the
// harness describes them ({"$tuple": ...} and so on), beside the keys
// Flask-Login keeps.
var typed = map[string]any{
	"_user_id": "42",
	"_fresh":   true,
	"pair":     map[string]any{"$tuple": []any{1, 2}},
	"blobs":    map[string]any{"$tuple": []any{map[string]any{"$bytes": "AP8="}}},
	"raw":      map[string]any{"$bytes": "AAEC/w=="},
	"id":       map[string]any{"$uuid": "12345678-1234-5678-1234-567812345678"},
	"when":     map[string]any{"$datetime": "2026-12-07T17:00:00+00:00"},
	"note":     map[string]any{"$markup": "<b>Zoë</b>"},
	"odd":      map[string]any{" t": 1},
}

var uuid = flask.UUID{0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78}

// TestFlaskAndGoShareASession: Flask writes a session with each tagged
// type; the Go side reads them as Go values, changes the session; Flask
// reads every Python type back as it was.
func TestFlaskAndGoShareASession(t *testing.T) {
	py := startFlask(t)
	var sealed flaskAnswer
	py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: typed}, &sealed)
	require.True(t, strings.HasPrefix(sealed.Cookie, "."), "Flask compresses a session this size")

	m := newManager(t, flask.Format{}, keyNew)
	s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
	require.False(t, s.IsNew())
	user, _ := cookiesession.Value[string](s, "_user_id")
	assert.Equal(t, "42", user)
	pair, _ := cookiesession.Value[flask.Tuple[int]](s, "pair")
	assert.Equal(t, flask.Tuple[int]{1, 2}, pair)
	blobs, _ := cookiesession.Value[flask.Tuple[flask.Bytes]](s, "blobs")
	assert.Equal(t, flask.Tuple[flask.Bytes]{{0, 0xff}}, blobs)
	raw, _ := cookiesession.Value[flask.Bytes](s, "raw")
	assert.Equal(t, flask.Bytes{0, 1, 2, 0xff}, raw)
	id, _ := cookiesession.Value[flask.UUID](s, "id")
	assert.Equal(t, uuid, id)
	assert.Equal(t, "12345678-1234-5678-1234-567812345678", id.String())
	when, _ := cookiesession.Value[flask.Time](s, "when")
	assert.True(t, time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC).Equal(when.Time))
	note, _ := cookiesession.Value[flask.Markup](s, "note")
	assert.Equal(t, flask.Markup("<b>Zoë</b>"), note)
	odd, _ := cookiesession.Value[map[string]int](s, "odd")
	assert.Equal(t, map[string]int{" t": 1}, odd, "a one-key dict named like a tag reads as the dict Flask holds")
	assert.WithinDuration(t, time.Now().Add(flask.DefaultLifetime), s.Expires(), 3*time.Second)

	s.Set("visits", 3)
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	var got flaskAnswer
	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
	require.True(t, got.Valid)
	want := map[string]any{"visits": 3}
	for k, v := range typed {
		want[k] = v
	}
	assert.JSONEq(t, formattest.JSON(t, want), formattest.JSON(t, got.Session), "every Python type survives the Go side")
}

// TestGoWritesFlaskReads: values the Go side sets with the tagged types
// reach Flask as those Python types, until PERMANENT_SESSION_LIFETIME after
// the Go side signed them.
func TestGoWritesFlaskReads(t *testing.T) {
	py := startFlask(t)
	m := newManager(t, flask.Format{Lifetime: time.Hour}, keyNew)
	s := m.LoadHeader()
	s.Set("_user_id", "42")
	s.Set("pair", flask.Tuple[int]{1, 2})
	s.Set("blobs", flask.Tuple[flask.Bytes]{{0, 0xff}})
	s.Set("raw", flask.Bytes{0, 1, 2, 0xff})
	s.Set("id", uuid)
	s.Set("when", flask.Time{Time: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)})
	s.Set("note", flask.Markup("<b>Zoë</b>"))
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	value := formattest.Saved(t, lines, cookieName)
	var got flaskAnswer
	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: value, Lifetime: 3600}, &got)
	require.True(t, got.Valid)
	want := map[string]any{}
	for k, v := range typed {
		if k != "_fresh" && k != "odd" {
			want[k] = v
		}
	}
	assert.JSONEq(t, formattest.JSON(t, want), formattest.JSON(t, got.Session))

	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: value, Lifetime: 3600, Now: time.Now().Add(time.Hour + 2*time.Second).Unix()}, &got)
	assert.False(t, got.Valid, "Flask refuses it PERMANENT_SESSION_LIFETIME after the Go side signed it")
	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: value, Lifetime: 3600, Now: time.Now().Add(-2 * time.Second).Unix()}, &got)
	assert.False(t, got.Valid, "itsdangerous refuses a signing time in its future: a clock behind the Go side's")
}

func TestFlaskRotation(t *testing.T) {
	py := startFlask(t)

	t.Run("the Go side reads the old SECRET_KEY's cookie and re-issues it", func(t *testing.T) {
		var sealed flaskAnswer
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyOld}, Session: map[string]any{"_user_id": "1"}}, &sealed)
		m := newManager(t, flask.Format{}, keyNew, keyOld)
		s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
		require.False(t, s.IsNew())
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		var got flaskAnswer
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid, "Flask with only the new key reads the re-issued cookie")
		assert.True(t, newManager(t, flask.Format{}, keyNew).LoadHeader(cookieName+"="+sealed.Cookie).IsNew())
	})

	t.Run("Flask reads the Go side's cookie of its fallback key", func(t *testing.T) {
		// Flask 2.2 has no SECRET_KEY_FALLBACKS (Flask 3.1): the harness
		// gives itsdangerous the list of keys it accepts underneath, which
		// is what SECRET_KEY_FALLBACKS does.
		old := newManager(t, flask.Format{}, keyOld)
		s := old.LoadHeader()
		s.Set("_user_id", "1")
		lines, err := old.SaveHeader(s)
		require.NoError(t, err)
		var got flaskAnswer
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew, keyOld}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid)
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.False(t, got.Valid)
	})
}

func TestFlaskRefusals(t *testing.T) {
	py := startFlask(t)
	m := newManager(t, flask.Format{}, keyNew)

	t.Run("expired by PERMANENT_SESSION_LIFETIME", func(t *testing.T) {
		var sealed flaskAnswer
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "1"}, Now: time.Now().Add(-flask.DefaultLifetime - time.Minute).Unix()}, &sealed)
		formattest.Refused(t, m, cookieName+"="+sealed.Cookie, cookiesession.ErrExpired)
	})

	t.Run("NotBefore ends sessions last written before it", func(t *testing.T) {
		var older, newer flaskAnswer
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "1"}, Now: time.Now().Add(-20 * time.Minute).Unix()}, &older)
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "1"}}, &newer)
		m := formattest.New(t, cookiesession.Options{Format: flask.Format{}, Name: cookieName, MaxAge: flask.DefaultLifetime, NotBefore: time.Now().Add(-10 * time.Minute)}, keyNew)
		_, err := m.Inspect(cookieName + "=" + older.Cookie)
		assert.ErrorIs(t, err, cookiesession.ErrRevoked)
		assert.False(t, m.LoadHeader(cookieName+"="+newer.Cookie).IsNew())
	})

	t.Run("signed more than a minute in the Go side's future", func(t *testing.T) {
		var ahead, slightly flaskAnswer
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "1"}, Now: time.Now().Add(2 * time.Minute).Unix()}, &ahead)
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "1"}, Now: time.Now().Add(30 * time.Second).Unix()}, &slightly)
		_, err := m.Inspect(cookieName + "=" + ahead.Cookie)
		assert.ErrorContains(t, err, "future")
		assert.False(t, m.LoadHeader(cookieName+"="+slightly.Cookie).IsNew())
	})

	t.Run("tampered", func(t *testing.T) {
		forged := formattest.Spliced(t, m, cookieName, ".", "_user_id")
		var got flaskAnswer
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: forged}, &got)
		assert.False(t, got.Valid)
		_, err := m.Inspect(cookieName + "=" + forged)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("short secrets", func(t *testing.T) {
		_, err := cookiesession.New(cookiesession.Options{Format: flask.Format{}, Secrets: [][]byte{[]byte(keyNew[:31])}})
		assert.ErrorIs(t, err, cookiesession.ErrWeakSecret)
		formattest.WeakSecretRefused(t, flask.Format{}, keyNew, keyNew[:31], "Flask SECRET_KEY")
	})
}

// TestFlaskSigningTimeIsCreation: the signing time is the session's creation
// time, whatever Options.MaxAge is, so RevokeAll and NotBefore hold with
// the default MaxAge (a day, against Flask's longer lifetime).
func TestFlaskSigningTimeIsCreation(t *testing.T) {
	py := startFlask(t)
	signed := time.Now().Add(-time.Hour).Truncate(time.Second)
	var sealed flaskAnswer
	py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: map[string]any{"_user_id": "42"}, Now: signed.Unix()}, &sealed)
	formattest.SigningTimeIsCreation(t, flask.Format{}, cookieName, keyNew, cookieName+"="+sealed.Cookie, signed, flask.DefaultLifetime)
}

// TestGoMapsNamedLikeTags: a Go map whose only key is one of Flask's tags
// (" m", " d", …) reaches Flask as the dict it is, escaped as Flask
// escapes its own, at any depth, not as Markup (which Jinja would not
// escape) or a datetime (None when it does not parse); Flask's own such
// dicts read back as those maps; the tagged types still reach Flask as
// their Python types.
func TestGoMapsNamedLikeTags(t *testing.T) {
	py := startFlask(t)
	m := newManager(t, flask.Format{}, keyNew)
	s := m.LoadHeader()
	s.Set("prefs", map[string]string{" m": `<img src=x onerror=alert(1)>`})
	s.Set("tags", map[string]string{" d": "not a date"})
	s.Set("deep", map[string]any{"list": []any{map[string]any{" t": []int{1}}, map[string]any{" di": 2}}})
	s.Set("note", flask.Markup("<b>ok</b>"))
	s.Set("pair", flask.Tuple[map[string]string]{{" b": "x"}})
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)

	var got flaskAnswer
	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
	require.True(t, got.Valid)
	assert.JSONEq(t, `{
		"prefs": {" m": "<img src=x onerror=alert(1)>"},
		"tags": {" d": "not a date"},
		"deep": {"list": [{" t": [1]}, {" di": 2}]},
		"note": {"$markup": "<b>ok</b>"},
		"pair": {"$tuple": [{" b": "x"}]}
	}`, formattest.JSON(t, got.Session), "Flask reads the maps as dicts, the tagged types as Python types")

	var sealed flaskAnswer
	py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: got.Session}, &sealed)
	back := m.LoadHeader(cookieName + "=" + sealed.Cookie)
	require.False(t, back.IsNew())
	prefs, _ := cookiesession.Value[map[string]string](back, "prefs")
	assert.Equal(t, map[string]string{" m": `<img src=x onerror=alert(1)>`}, prefs)
	deep, _ := cookiesession.Value[map[string][]map[string]any](back, "deep")
	assert.Equal(t, map[string][]map[string]any{"list": {{" t": []any{1.0}}, {" di": 2.0}}}, deep)
	note, _ := cookiesession.Value[flask.Markup](back, "note")
	assert.Equal(t, flask.Markup("<b>ok</b>"), note)
	pair, _ := cookiesession.Value[flask.Tuple[map[string]string]](back, "pair")
	assert.Equal(t, flask.Tuple[map[string]string]{{" b": "x"}}, pair)
}
