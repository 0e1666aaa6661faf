package cookiesession

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusHandler: over HTTP, the handler serves the counts and each
// secret's rotation state by fingerprint, with SafeToRemove's answer and
// reason, the removed secrets with their last counts, and never a secret.
func TestStatusHandler(t *testing.T) {
	a, b, c := testKey(1), testKey(2), testKey(3)
	m, clk := newTestManager(t, Options{Secrets: [][]byte{a, c}, RefusalSummary: -1})
	m.secrets.Load().since = clk.Now()
	user := issue(t, m, func(s *Session) { s.Set("n", 1) }) // sealed with a
	clk.Add(time.Hour)
	require.NoError(t, m.ReplaceSecrets([][]byte{b, a})) // c removed, b promoted
	user.visit(m, touch)                                 // verified by a, re-issued with b
	serve(m, "session="+strings.Repeat("A", 40), touch)  // refused
	clk.Add(2 * time.Hour)

	srv := httptest.NewServer(m.StatusHandler(time.Hour))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, secret := range [][]byte{a, b, c} {
		assert.NotContains(t, string(body), string(secret), "never a secret")
	}

	var got struct {
		Cookie  string `json:"cookie"`
		Secrets []struct {
			Index        int     `json:"index"`
			Fingerprint  string  `json:"fingerprint"`
			Verified     uint64  `json:"verified"`
			LastVerified *string `json:"last_verified"`
			SafeToRemove bool    `json:"safe_to_remove"`
			Reason       string  `json:"reason"`
		} `json:"secrets"`
		Removed []struct {
			Fingerprint  string `json:"fingerprint"`
			SafeToRemove *bool  `json:"safe_to_remove"`
		} `json:"removed_secrets"`
		Reads struct {
			NoCookie uint64            `json:"no_cookie"`
			Refused  map[string]uint64 `json:"refused"`
		} `json:"reads"`
		Writes struct {
			Written uint64 `json:"written"`
		} `json:"writes"`
		Sizes map[string]struct {
			Buckets []struct{ Le, Count int } `json:"buckets"`
			Sum     uint64                    `json:"sum"`
		} `json:"sizes"`
	}
	require.NoError(t, json.Unmarshal(body, &got), string(body))
	assert.Equal(t, "session", got.Cookie)
	require.Len(t, got.Secrets, 2)
	assert.Equal(t, SecretFingerprint(b), got.Secrets[0].Fingerprint)
	assert.False(t, got.Secrets[0].SafeToRemove)
	assert.Equal(t, "the first secret seals every cookie", got.Secrets[0].Reason)
	assert.Equal(t, 1, got.Secrets[1].Index)
	assert.Equal(t, SecretFingerprint(a), got.Secrets[1].Fingerprint)
	assert.Equal(t, uint64(1), got.Secrets[1].Verified)
	assert.NotNil(t, got.Secrets[1].LastVerified)
	assert.True(t, got.Secrets[1].SafeToRemove, got.Secrets[1].Reason)
	assert.Equal(t, "it has verified no cookie for 2h0m0s", got.Secrets[1].Reason)
	require.Len(t, got.Removed, 1)
	assert.Equal(t, SecretFingerprint(c), got.Removed[0].Fingerprint)
	assert.Nil(t, got.Removed[0].SafeToRemove, "removed already")
	assert.Equal(t, uint64(1), got.Reads.Refused["not_verified"])
	assert.Equal(t, uint64(0), got.Reads.Refused["expired"], "every reason, by name")
	assert.Equal(t, uint64(2), got.Writes.Written)
	line := got.Sizes["cookie_line"]
	require.NotEmpty(t, line.Buckets)
	assert.Equal(t, -1, line.Buckets[len(line.Buckets)-1].Le)
	assert.Equal(t, m.Counts().CookieLineSum, line.Sum)

	post, err := http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	post.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)
}
