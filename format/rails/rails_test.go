package rails_test

import (
	"encoding/json"
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
