package flask

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

// testSecret returns a 64-character SECRET_KEY made from seed, as
// secrets.token_hex() prints one.
func testSecret(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

var (
	keyNew = testSecret("new")
	keyOld = testSecret("old")
)

type flaskRequest struct {
	Op         string         `json:"op"`
	SecretKeys []string       `json:"secret_keys"`
	Session    map[string]any `json:"session,omitempty"`
	Lifetime   int            `json:"lifetime,omitempty"`
	Now        int64          `json:"now,omitempty"`
	Permanent  bool           `json:"permanent,omitempty"`
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
	if out, err := exec.Command("/usr/bin/python3", "-c", probe).CombinedOutput(); err != nil {
		return "Flask 2.2 and itsdangerous 2.1 are not installed for /usr/bin/python3 (apt-get install python3-flask): " + strings.TrimSpace(string(out))
	}
	return ""
})

// startFlask runs testdata/flask/session.py: a Flask 2.2 application's
// session cookie called name.
func startFlask(t *testing.T, name string) *harness.Process {
	t.Helper()
	harness.Need(t, "Flask", flaskMissing())
	return harness.Start(t, "/usr/bin/python3", "testdata/flask/session.py", name)
}

func newTestCodec(t testing.TB, secrets ...string) *codec {
	t.Helper()
	raw := make([][]byte, len(secrets))
	for i, s := range secrets {
		raw[i] = []byte(s)
	}
	c, err := newCodec(raw, DefaultLifetime)
	require.NoError(t, err)
	return c
}

// typed is a session holding each type Flask's tagged JSON marks, as the
// harness describes them, and as the Go values that read them.
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

type typedGo struct {
	Pair  Tuple[int]
	Blobs Tuple[Bytes]
	Raw   Bytes
	ID    UUID
	When  Time
	Note  Markup
}

func TestFlaskWritesCodecReads(t *testing.T) {
	py := startFlask(t, "session")
	var sealed flaskAnswer
	py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyNew}, Session: typed}, &sealed)
	require.True(t, strings.HasPrefix(sealed.Cookie, "."), "Flask compresses a session this size")
	got, err := newTestCodec(t, keyNew).open(sealed.Cookie, time.Now())
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), got.signed, 2*time.Second)

	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(got.json, &fields))
	var v typedGo
	for name, dst := range map[string]any{"pair": &v.Pair, "blobs": &v.Blobs, "raw": &v.Raw, "id": &v.ID, "when": &v.When, "note": &v.Note} {
		require.NoError(t, json.Unmarshal(fields[name], dst), name)
	}
	assert.Equal(t, Tuple[int]{1, 2}, v.Pair)
	assert.Equal(t, Tuple[Bytes]{{0, 0xff}}, v.Blobs)
	assert.Equal(t, Bytes{0, 1, 2, 0xff}, v.Raw)
	assert.Equal(t, "12345678-1234-5678-1234-567812345678", v.ID.String())
	assert.True(t, time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC).Equal(v.When.Time))
	assert.Equal(t, Markup("<b>Zoë</b>"), v.Note)
	assert.JSONEq(t, `{" di":{" t__":1}}`, string(fields["odd"]), "a one-key dict named like a tag stays as Flask escaped it")
	assert.JSONEq(t, `"42"`, string(fields["_user_id"]))

	t.Run("rotated: the Go side reads with its fallback secret", func(t *testing.T) {
		var old flaskAnswer
		py.Do(flaskRequest{Op: "seal", SecretKeys: []string{keyOld}, Session: map[string]any{"_user_id": "1"}}, &old)
		got, err := newTestCodec(t, keyNew, keyOld).open(old.Cookie, time.Now())
		require.NoError(t, err)
		assert.Equal(t, 1, got.key)
		_, err = newTestCodec(t, keyNew).open(old.Cookie, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})
}

func TestCodecWritesFlaskReads(t *testing.T) {
	py := startFlask(t, "session")
	c := newTestCodec(t, keyNew)
	uuid := UUID{0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78}
	session, err := json.Marshal(map[string]any{
		"_user_id": "42",
		"pair":     Tuple[int]{1, 2},
		"blobs":    Tuple[Bytes]{{0, 0xff}},
		"raw":      Bytes{0, 1, 2, 0xff},
		"id":       uuid,
		"when":     Time{time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)},
		"note":     Markup("<b>Zoë</b>"),
		"odd":      json.RawMessage(`{" di":{" t__":1}}`),
	})
	require.NoError(t, err)
	v, err := c.seal(session, time.Now())
	require.NoError(t, err)
	var got flaskAnswer
	py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: v}, &got)
	require.True(t, got.Valid)
	want := map[string]any{}
	for k, v := range typed {
		if k != "_fresh" {
			want[k] = v
		}
	}
	assert.JSONEq(t, mustJSON(t, want), mustJSON(t, got.Session), "Flask reads each Python type back")

	t.Run("rotated: Flask reads with its fallback secret", func(t *testing.T) {
		old, err := newTestCodec(t, keyOld).seal([]byte(`{"_user_id":"1"}`), time.Now())
		require.NoError(t, err)
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew, keyOld}, Cookie: old}, &got)
		assert.True(t, got.Valid)
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: old}, &got)
		assert.False(t, got.Valid)
	})

	t.Run("expired on Flask's side", func(t *testing.T) {
		v, err := c.seal([]byte(`{"_user_id":"1"}`), time.Now().Add(-time.Hour-2*time.Second))
		require.NoError(t, err)
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: v, Lifetime: 3600}, &got)
		assert.False(t, got.Valid)
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: v, Lifetime: 3700}, &got)
		assert.True(t, got.Valid)
	})

	t.Run("tampered", func(t *testing.T) {
		v, err := c.seal([]byte(`{"_user_id":"1"}`), time.Now())
		require.NoError(t, err)
		forged, err := c.seal([]byte(`{"_user_id":"2"}`), time.Now())
		require.NoError(t, err)
		payload, _, _ := strings.Cut(forged, ".")
		_, rest, _ := strings.Cut(v, ".")
		py.Do(flaskRequest{Op: "open", SecretKeys: []string{keyNew}, Cookie: payload + "." + rest}, &got)
		assert.False(t, got.Valid)
		_, err = c.open(payload+"."+rest, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
