package rails_test

import (
	"context"
	"encoding/base64"
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
	"github.com/cookiesession/cookiesession/internal/formattest"
	"github.com/cookiesession/cookiesession/internal/harness"
)

// testSecret returns a 128-character secret_key_base made from seed, as
// bin/rails secret prints one.
func testSecret(seed string) string {
	return formattest.HexSecret(seed) + formattest.HexSecret(seed+"2")
}

var (
	secretA = testSecret("current")
	secretB = testSecret("old")
)

const cookieName = "_app_session"

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
	return harness.Missing("Rails 6.1 is not installed (apt-get install ruby-actionpack ruby-activesupport ruby-railties)",
		"ruby", "-e", `require "action_controller/railtie"; exit(Rails.version.start_with?("6.1") ? 0 : 1)`)
})

// startRails runs testdata/rails/session.rb: a Rails 6.1 application's
// cookie store for the cookie called name.
func startRails(t *testing.T) *harness.Process {
	t.Helper()
	harness.Need(t, "Rails", railsMissing())
	return harness.Start(t, "ruby", "testdata/rails/session.rb", cookieName)
}

func keys(digest string, secrets ...string) []railsKey {
	out := make([]railsKey, len(secrets))
	for i, s := range secrets {
		out[i] = railsKey{s, digest}
	}
	return out
}

func newManager(t *testing.T, f rails.Format, secrets ...string) *cookiesession.Manager {
	t.Helper()
	return formattest.New(t, cookiesession.Options{Format: f, Name: cookieName, MaxAge: time.Hour}, secrets...)
}

func digestName(d rails.Digest) string { return strings.ToLower(d.String()) }

// TestRailsAndGoShareASession: Rails logs in and writes; the Go side reads
// the session with Rails' own keys, changes it; Rails reads the change and
// still has its session_id and CSRF token. Both Rails 6.1's key derivation
// (SHA1) and Rails 7.0's (SHA256).
func TestRailsAndGoShareASession(t *testing.T) {
	rb := startRails(t)
	for _, d := range []rails.Digest{rails.SHA1, rails.SHA256} {
		t.Run(d.String(), func(t *testing.T) {
			var sealed railsAnswer
			rb.Do(railsRequest{Op: "seal", Keys: keys(digestName(d), secretA), Session: map[string]any{"user_id": 42, "name": "<Zoë & co>"}, ExpireAfter: 3600}, &sealed)
			csrf, _ := sealed.Session["_csrf_token"].(string)
			require.NotEmpty(t, csrf)

			m := newManager(t, rails.Format{Digest: d}, secretA)
			s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
			require.False(t, s.IsNew())
			user, _ := cookiesession.Value[int](s, "user_id")
			assert.Equal(t, 42, user)
			name, _ := cookiesession.Value[string](s, "name")
			assert.Equal(t, "<Zoë & co>", name)
			token, _ := cookiesession.Value[string](s, "_csrf_token")
			assert.Equal(t, csrf, token)
			assert.Equal(t, sealed.Session["session_id"], s.ID(), "Rails' session_id is the session's ID")
			assert.WithinDuration(t, time.Now().Add(time.Hour), s.Expires(), 5*time.Second, "Rails' expiry holds")

			s.Set("cart", []string{"book"})
			lines, err := m.SaveHeader(s)
			require.NoError(t, err)
			var got railsAnswer
			rb.Do(railsRequest{Op: "open", Keys: keys(digestName(d), secretA), Cookie: formattest.Saved(t, lines, cookieName)}, &got)
			require.True(t, got.Valid)
			assert.Equal(t, sealed.Session["session_id"], got.Session["session_id"])
			assert.Equal(t, csrf, got.Session["_csrf_token"])
			assert.Equal(t, float64(42), got.Session["user_id"])
			assert.Equal(t, []any{"book"}, got.Session["cart"])
		})
	}
}

// TestGoWritesRailsReads: a session the Go side starts is one Rails reads,
// with the Go side's ID as its session_id, until the Go side's expiry.
func TestGoWritesRailsReads(t *testing.T) {
	rb := startRails(t)
	m := newManager(t, rails.Format{}, secretA)
	s := m.LoadHeader()
	s.Set("user_id", 7)
	s.Set("name", "Zoë 😀")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	value := formattest.Saved(t, lines, cookieName)
	var got railsAnswer
	rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: value}, &got)
	require.True(t, got.Valid)
	assert.Equal(t, map[string]any{"session_id": s.ID(), "user_id": float64(7), "name": "Zoë 😀"}, got.Session)

	rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: value, Now: time.Now().Add(time.Hour + 2*time.Second).Unix()}, &got)
	assert.False(t, got.Valid, "Rails refuses it after the Go side's expiry")

	t.Run("Renew gives Rails a new session_id", func(t *testing.T) {
		s := m.LoadHeader(cookieName + "=" + value)
		before := s.ID()
		s.Renew()
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		require.True(t, got.Valid)
		assert.NotEqual(t, before, got.Session["session_id"])
		assert.Equal(t, s.ID(), got.Session["session_id"])
	})
}

func TestRailsRotation(t *testing.T) {
	rb := startRails(t)

	t.Run("the Go side reads the old secret's cookie and re-issues it", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretB), Session: map[string]any{"user_id": 7}}, &sealed)
		m := newManager(t, rails.Format{}, secretA, secretB)
		s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
		require.False(t, s.IsNew())
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		value := formattest.Saved(t, lines, cookieName)
		require.NotEmpty(t, value, "re-issued with the newest secret")
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: value}, &got)
		assert.True(t, got.Valid, "Rails without the old secret reads the re-issued cookie")
	})

	t.Run("Rails reads the Go side's cookie of its rotated-out secret and re-issues it", func(t *testing.T) {
		old := newManager(t, rails.Format{}, secretB)
		s := old.LoadHeader()
		s.Set("user_id", 7)
		lines, err := old.SaveHeader(s)
		require.NoError(t, err)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA, secretB), Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		require.True(t, got.Valid)
		require.NotEmpty(t, got.Cookie, "Rails re-issues it with its newest secret")
		s = newManager(t, rails.Format{}, secretA).LoadHeader(cookieName + "=" + got.Cookie)
		assert.False(t, s.IsNew())

		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.False(t, got.Valid, "not without the old secret in cookies_rotations")
	})

	t.Run("moving to Rails 7.0's key derivation: both digests read", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha1", secretA), Session: map[string]any{"user_id": 7}}, &sealed)
		assert.True(t, newManager(t, rails.Format{}, secretA).LoadHeader(cookieName+"="+sealed.Cookie).IsNew())
		m := newManager(t, rails.Format{ReadBoth: true}, secretA)
		s := m.LoadHeader(cookieName + "=" + sealed.Cookie)
		require.False(t, s.IsNew())

		s.Set("cart", 1)
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: []railsKey{{secretA, "sha256"}}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid, "written with SHA256 keys")

		sha1App := newManager(t, rails.Format{Digest: rails.SHA1}, secretA)
		s = sha1App.LoadHeader()
		s.Set("user_id", 8)
		lines, err = sha1App.SaveHeader(s)
		require.NoError(t, err)
		rb.Do(railsRequest{Op: "open", Keys: []railsKey{{secretA, "sha256"}, {secretA, "sha1"}}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid, "Rails with a SHA1 key generator in cookies_rotations reads a SHA1 cookie")

		// Before either side seals with SHA256, both read it.
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 9}}, &sealed)
		assert.True(t, sha1App.LoadHeader(cookieName+"="+sealed.Cookie).IsNew())
		s = newManager(t, rails.Format{Digest: rails.SHA1, ReadBoth: true}, secretA).LoadHeader(cookieName + "=" + sealed.Cookie)
		assert.False(t, s.IsNew())
		sha256App := newManager(t, rails.Format{}, secretA)
		s = sha256App.LoadHeader()
		s.Set("user_id", 10)
		lines, err = sha256App.SaveHeader(s)
		require.NoError(t, err)
		rb.Do(railsRequest{Op: "open", Keys: []railsKey{{secretA, "sha1"}, {secretA, "sha256"}}, Cookie: formattest.Saved(t, lines, cookieName)}, &got)
		assert.True(t, got.Valid, "Rails sealing with SHA1 reads SHA256 through cookies_rotations")
	})
}

func TestRailsRefusals(t *testing.T) {
	rb := startRails(t)
	m := newManager(t, rails.Format{}, secretA)

	t.Run("expired by Rails' own expiry", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, ExpireAfter: 60, Now: time.Now().Add(-time.Hour).Unix()}, &sealed)
		formattest.Refused(t, m, cookieName+"="+sealed.Cookie, cookiesession.ErrExpired)
	})

	t.Run("NotBefore ends sessions last written before it", func(t *testing.T) {
		var older, newer railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, ExpireAfter: 3600, Now: time.Now().Add(-20 * time.Minute).Unix()}, &older)
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, ExpireAfter: 3600}, &newer)
		m := formattest.New(t, cookiesession.Options{Format: rails.Format{}, Name: cookieName, MaxAge: time.Hour, NotBefore: time.Now().Add(-10 * time.Minute)}, secretA)
		_, err := m.Inspect(cookieName + "=" + older.Cookie)
		assert.ErrorIs(t, err, cookiesession.ErrRevoked)
		assert.False(t, m.LoadHeader(cookieName+"="+newer.Cookie).IsNew())
	})

	t.Run("revocation needs MaxAge and an expiry", func(t *testing.T) {
		// Rails keeps no creation time: it is the expiry less MaxAge, so
		// the default MaxAge (a day, against expire_after's weeks) would
		// make every session look created just now.
		opts := cookiesession.Options{Format: rails.Format{}, Secrets: [][]byte{[]byte(secretA)}, Name: cookieName, Revocations: cookiesession.NewMemoryRevocations()}
		_, err := cookiesession.New(opts)
		assert.ErrorContains(t, err, "need Options.MaxAge")

		opts.MaxAge = 14 * 24 * time.Hour
		m, err := cookiesession.New(opts)
		require.NoError(t, err)
		var older, forever railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, ExpireAfter: 14 * 24 * 3600, Now: time.Now().Add(-time.Hour).Unix()}, &older)
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}}, &forever)
		require.NoError(t, m.RevokeAll(context.Background()))
		_, err = m.Inspect(cookieName + "=" + older.Cookie)
		assert.ErrorIs(t, err, cookiesession.ErrRevoked, "written an hour before RevokeAll")

		// Without expire_after (Rails' default) a session carries no time
		// at all: no revocation could end it, so it is refused.
		formattest.Refused(t, m, cookieName+"="+forever.Cookie, cookiesession.ErrRevoked)
	})

	t.Run("Ruby Marshal is refused unread", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}, Serializer: "marshal"}, &sealed)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: sealed.Cookie, Serializer: "marshal"}, &got)
		require.True(t, got.Valid, "Rails itself reads it")
		_, err := m.Inspect(cookieName + "=" + sealed.Cookie)
		assert.ErrorIs(t, err, rails.ErrMarshal)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
		assert.ErrorContains(t, err, "Marshal")
		assert.True(t, m.LoadHeader(cookieName+"="+sealed.Cookie).IsNew())
	})

	t.Run("bound to the cookie's name", func(t *testing.T) {
		var sealed railsAnswer
		rb.Do(railsRequest{Op: "seal", Keys: keys("sha256", secretA), Session: map[string]any{"user_id": 7}}, &sealed)
		other, err := cookiesession.New(cookiesession.Options{Format: rails.Format{}, Secrets: [][]byte{[]byte(secretA)}, Name: "other"})
		require.NoError(t, err)
		_, err = other.Inspect("other=" + sealed.Cookie)
		assert.ErrorContains(t, err, "purpose")
	})

	t.Run("tampered", func(t *testing.T) {
		s := m.LoadHeader()
		s.Set("user_id", 7)
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		raw, err := url.QueryUnescape(formattest.Saved(t, lines, cookieName))
		require.NoError(t, err)
		ct, rest, _ := strings.Cut(raw, "--")
		b, err := base64.StdEncoding.DecodeString(ct)
		require.NoError(t, err)
		b[len(b)-2] ^= 1
		forged := url.QueryEscape(base64.StdEncoding.EncodeToString(b) + "--" + rest)
		var got railsAnswer
		rb.Do(railsRequest{Op: "open", Keys: keys("sha256", secretA), Cookie: forged}, &got)
		assert.False(t, got.Valid)
		_, err = m.Inspect(cookieName + "=" + forged)
		assert.ErrorIs(t, err, cookiesession.ErrInvalid)
	})

	t.Run("short or patterned secrets", func(t *testing.T) {
		for _, s := range []string{secretA[:31], strings.Repeat("ab12", 16)} {
			_, err := cookiesession.New(cookiesession.Options{Format: rails.Format{}, Secrets: [][]byte{[]byte(s)}})
			assert.ErrorIs(t, err, cookiesession.ErrWeakSecret)
			formattest.WeakSecretRefused(t, rails.Format{}, secretA, s, "Rails secret_key_base")
		}
	})
}
