package rails_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/rails"
	"github.com/cookiesession/cookiesession/internal/harness"
)

var (
	secretA = strings.Repeat("a1b2c3d4", 16) // 128 hex characters, as bin/rails secret prints
	secretB = strings.Repeat("e5f6a7b8", 16)
)

type railsKey struct {
	SecretKeyBase string `json:"secret_key_base"`
	Digest        string `json:"digest"`
}

type railsRequest struct {
	Op          string         `json:"op"`
	Keys        []railsKey     `json:"keys"`
	Session     map[string]any `json:"session,omitempty"`
	ExpireAfter int            `json:"expire_after,omitempty"`
	Now         int64          `json:"now,omitempty"`
	Serializer  string         `json:"serializer,omitempty"`
	Cookie      string         `json:"cookie,omitempty"`
}

type railsAnswer struct {
	Cookie    string         `json:"cookie"`
	SetCookie string         `json:"set_cookie"`
	Valid     bool           `json:"valid"`
	Session   map[string]any `json:"session"`
}

var railsMissing = sync.OnceValue(func() string {
	if _, err := exec.LookPath("ruby"); err != nil {
		return "ruby is not installed (apt-get install ruby ruby-actionpack ruby-activesupport ruby-railties)"
	}
	if out, err := exec.Command("ruby", "-e", `require "action_controller/railtie"; exit(Rails.version.start_with?("6.1") ? 0 : 1)`).CombinedOutput(); err != nil {
		return "Rails 6.1 is not installed (apt-get install ruby-actionpack ruby-activesupport ruby-railties): " + strings.TrimSpace(string(out))
	}
	return ""
})

// startRails runs testdata/rails/session.rb: Rails 6.1's cookie store for
// the cookie called name.
func startRails(t *testing.T, name string) *harness.Process {
	t.Helper()
	harness.Need(t, "Rails", railsMissing())
	return harness.Start(t, "ruby", "testdata/rails/session.rb", name)
}

func keys(digest string, secrets ...string) []railsKey {
	out := make([]railsKey, len(secrets))
	for i, s := range secrets {
		out[i] = railsKey{s, digest}
	}
	return out
}

func TestRailsWritesCodecReads(t *testing.T) {
	rb := startRails(t, "_app_session")
	for _, c := range []struct {
		digest string
		d      rails.Digest
	}{{"sha1", rails.SHA1}, {"sha256", rails.SHA256}} {
		t.Run(c.digest, func(t *testing.T) {
			var sealed railsAnswer
			rb.Do(railsRequest{Op: "seal", Keys: keys(c.digest, secretA), Session: map[string]any{"user_id": 42, "name": "<Zoë & co>"}, ExpireAfter: 3600}, &sealed)
			codec, err := rails.New([][]byte{[]byte(secretA)}, c.d)
			require.NoError(t, err)
			s, err := codec.Open("_app_session", sealed.Cookie, time.Now())
			require.NoError(t, err)
			assert.JSONEq(t, mustJSON(t, sealed.Session), string(s.JSON))
			assert.Contains(t, sealed.Session, "session_id")
			assert.Contains(t, sealed.Session, "_csrf_token")
			assert.WithinDuration(t, time.Now().Add(time.Hour), s.Expires, 5*time.Second)

			_, err = codec.Open("other_session", sealed.Cookie, time.Now())
			assert.ErrorIs(t, err, cookiesession.ErrInvalid, "the purpose binds the cookie name")
			_, err = codec.Open("_app_session", sealed.Cookie, time.Now().Add(time.Hour+time.Second))
			assert.ErrorIs(t, err, cookiesession.ErrExpired)
		})
	}
}

func TestCodecWritesRailsReads(t *testing.T) {
	rb := startRails(t, "_app_session")
	for _, c := range []struct {
		digest string
		d      rails.Digest
	}{{"sha1", rails.SHA1}, {"sha256", rails.SHA256}} {
		t.Run(c.digest, func(t *testing.T) {
			codec, err := rails.New([][]byte{[]byte(secretA)}, c.d)
			require.NoError(t, err)
			v, err := codec.Seal("_app_session", []byte(`{"session_id":"0123456789abcdef0123456789abcdef","user_id":7,"name":"Zoë 😀"}`), time.Now().Add(time.Hour))
			require.NoError(t, err)
			var got railsAnswer
			rb.Do(railsRequest{Op: "open", Keys: keys(c.digest, secretA), Cookie: v}, &got)
			require.True(t, got.Valid)
			assert.Equal(t, map[string]any{"session_id": "0123456789abcdef0123456789abcdef", "user_id": float64(7), "name": "Zoë 😀"}, got.Session)

			rb.Do(railsRequest{Op: "open", Keys: keys(c.digest, secretA), Cookie: v, Now: time.Now().Add(time.Hour + time.Second).Unix()}, &got)
			assert.False(t, got.Valid, "Rails refuses it after its expiry")
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestRailsRotation(t *testing.T) {
	rb := startRails(t, "_app_session")
	session := []byte(`{"session_id":"0123456789abcdef0123456789abcdef","user_id":7}`)

	t.Run("the Go side reads a cookie of the old secret", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretB), Session: map[string]any{"user_id": 7}}, &sealed)
		codec, err := rails.New([][]byte{[]byte(secretA), []byte(secretB)})
		require.NoError(t, err)
		s, err := codec.Open("_app_session", sealed.Cookie, time.Now())
		require.NoError(t, err)
		assert.Equal(t, 1, s.Key)
	})

	t.Run("Rails reads a cookie of its rotated-out secret and re-issues it", func(t *testing.T) {
		old, err := rails.New([][]byte{[]byte(secretB)})
		require.NoError(t, err)
		v, err := old.Seal("_app_session", session, time.Time{})
		require.NoError(t, err)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA, secretB), Cookie: v}, &got)
		require.True(t, got.Valid)
		assert.Equal(t, float64(7), got.Session["user_id"])
		require.NotEmpty(t, got.Cookie, "Rails re-issues it with its newest secret")
		current, err := rails.New([][]byte{[]byte(secretA)})
		require.NoError(t, err)
		_, err = current.Open("_app_session", got.Cookie, time.Now())
		assert.NoError(t, err)

		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: v}, &got)
		assert.False(t, got.Valid, "not without the old secret in cookies_rotations")
	})

	t.Run("upgrading to Rails 7 key derivation: SHA1 cookies still read", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha1", secretA), Session: map[string]any{"user_id": 7}}, &sealed)
		sha256Only, err := rails.New([][]byte{[]byte(secretA)}, rails.SHA256)
		require.NoError(t, err)
		_, err = sha256Only.Open("_app_session", sealed.Cookie, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
		both, err := rails.New([][]byte{[]byte(secretA)}, rails.SHA256, rails.SHA1)
		require.NoError(t, err)
		s, err := both.Open("_app_session", sealed.Cookie, time.Now())
		require.NoError(t, err)
		assert.Equal(t, 1, s.Key)

		v, err := both.Seal("_app_session", session, time.Time{})
		require.NoError(t, err)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: []railsKey{{secretA, "sha256"}, {secretA, "sha1"}}, Cookie: v}, &got)
		assert.True(t, got.Valid)
	})
}

func TestRailsRefusals(t *testing.T) {
	rb := startRails(t, "_app_session")
	codec, err := rails.New([][]byte{[]byte(secretA)})
	require.NoError(t, err)

	t.Run("expired by Rails", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, ExpireAfter: 60, Now: time.Now().Add(-time.Hour).Unix()}, &sealed)
		_, err := codec.Open("_app_session", sealed.Cookie, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrExpired)
	})

	t.Run("Ruby Marshal is refused unread", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, Serializer: "marshal"}, &sealed)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: sealed.Cookie, Serializer: "marshal"}, &got)
		require.True(t, got.Valid, "Rails itself reads it")
		_, err := codec.Open("_app_session", sealed.Cookie, time.Now())
		assert.ErrorIs(t, err, rails.ErrMarshal)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("tampered", func(t *testing.T) {
		v, err := codec.Seal("_app_session", []byte(`{"user_id":7}`), time.Time{})
		require.NoError(t, err)
		raw, err := url.QueryUnescape(v)
		require.NoError(t, err)
		ct, err := base64.StdEncoding.DecodeString(raw[:strings.Index(raw, "--")])
		require.NoError(t, err)
		ct[len(ct)-2] ^= 1 // flips one bit of the JSON
		forged := url.QueryEscape(base64.StdEncoding.EncodeToString(ct) + raw[strings.Index(raw, "--"):])
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: forged}, &got)
		assert.False(t, got.Valid)
		_, err = codec.Open("_app_session", forged, time.Now())
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("short secret", func(t *testing.T) {
		_, err := rails.New([][]byte{[]byte(secretA[:31])})
		assert.ErrorIs(t, err, cookiesession.ErrWeakSecret)
	})
}
