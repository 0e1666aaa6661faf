package cookiesession

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gorillaHash and gorillaBlock are a CookieStore's key pair.
var gorillaHash, gorillaBlock = []byte("gorilla-hash-key-0123456789abcdef"), []byte("gorilla-block-key-0123456789abcd")

// gorillaCookie returns a Cookie header as gorilla/sessions' CookieStore
// writes it at the time written: the values gob-encoded and sealed by
// securecookie, then dated and signed again as securecookie would have
// (its clock cannot be set).
func gorillaCookie(t *testing.T, values map[any]any, written time.Time) string {
	t.Helper()
	v, err := securecookie.EncodeMulti("session", values, securecookie.CodecsFromPairs(gorillaHash, gorillaBlock)...)
	require.NoError(t, err)
	b, err := base64.URLEncoding.DecodeString(v)
	require.NoError(t, err)
	parts := bytes.SplitN(b, []byte("|"), 3)
	signed := fmt.Sprintf("%d|%s", written.Unix(), parts[1])
	mac := hmac.New(sha256.New, gorillaHash)
	mac.Write([]byte("session|" + signed))
	return "session=" + base64.URLEncoding.EncodeToString(append([]byte(signed+"|"), mac.Sum(nil)...))
}

// TestGorillaCookieKeepsItsLifetime: a migrated session starts when its
// gorilla cookie was written, not when it is presented, so NotBefore and
// RevokeAll see its age, and it ends when the store's MaxAge says. The
// Manager's clock runs ahead of securecookie's to age the cookie.
func TestGorillaCookieKeepsItsLifetime(t *testing.T) {
	written := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	cookie := gorillaCookie(t, map[any]any{"user": "ada"}, written)
	list := NewMemoryRevocations()
	m, clk := newTestManager(t, Options{
		Gorilla:     &GorillaCookies{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 365 * 24 * time.Hour},
		MaxAge:      30 * 24 * time.Hour,
		Revocations: list,
	})
	list.now = clk.Now

	// securecookie checks the store's MaxAge against its own clock: a
	// year, so that the Manager's clock decides here.
	clk.t = written.Add(59 * time.Minute)
	in, err := m.Inspect(cookie)
	require.NoError(t, err)
	assert.Equal(t, written, in.Created.UTC())
	assert.Equal(t, written.Add(30*24*time.Hour), in.Expires.UTC(), "MaxAge from the cookie's time")
	var ids []string
	for range 3 {
		in, err := m.Inspect(cookie)
		require.NoError(t, err)
		ids = append(ids, in.ID)
	}
	assert.Equal(t, []string{ids[0], ids[0], ids[0]}, ids, "replays are one session")

	clk.t = written.Add(30*24*time.Hour + time.Second)
	_, err = m.Inspect(cookie)
	assert.ErrorIs(t, err, ErrExpired)

	short, _ := newTestManager(t, Options{Gorilla: &GorillaCookies{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 2 * 365 * 24 * time.Hour}, MaxAge: time.Hour})
	short.now = func() time.Time { return written.Add(59 * time.Minute) }
	in, err = short.Inspect(cookie)
	require.NoError(t, err)
	assert.Equal(t, written.Add(time.Hour), in.Expires.UTC(), "a cookie 59 minutes old has a minute left, not 720 h")

	// NotBefore one minute before now: the cookie is an hour old.
	clk.t = written.Add(time.Hour)
	killed, _ := newTestManager(t, Options{
		Gorilla:   &GorillaCookies{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 365 * 24 * time.Hour},
		NotBefore: written.Add(59 * time.Minute),
	})
	killed.now = clk.Now
	_, err = killed.Inspect(cookie)
	assert.ErrorIs(t, err, ErrRevoked)

	// RevokeAll, and a logout by RevokeSession, refuse every copy.
	require.NoError(t, m.RevokeAll(context.Background()))
	_, err = m.Inspect(cookie)
	assert.ErrorIs(t, err, ErrRevoked)

	clk.t = written
	m2, _ := newTestManager(t, Options{Gorilla: &GorillaCookies{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 365 * 24 * time.Hour}, Revocations: NewMemoryRevocations()})
	m2.now = clk.Now
	b := browser{}
	resp := serve(m2, cookie, func(_ http.ResponseWriter, s *Session) {
		require.False(t, s.IsNew())
		require.NoError(t, m2.RevokeSession(context.Background(), s))
	})
	b.apply(resp)
	for range 2 {
		_, err = m2.Inspect(cookie)
		assert.ErrorIs(t, err, ErrRevoked, "the same gorilla cookie cannot log in again")
	}
}

// TestGorillaCookieTextsAreOneSession: securecookie's decoder ignores the
// unused bits of the last base64 character, so several texts carry one
// gorilla cookie. They are one session, and one revocation refuses all.
func TestGorillaCookieTextsAreOneSession(t *testing.T) {
	m, clk := newTestManager(t, Options{Gorilla: &GorillaCookies{KeyPairs: [][]byte{gorillaHash, gorillaBlock}}, Revocations: NewMemoryRevocations()})
	var cookie, variant string
	for n := 1; variant == ""; n++ { // until the value ends in a character with unused bits
		require.Less(t, n, 10)
		cookie = gorillaCookie(t, map[any]any{"user": randomText(n)}, clk.Now())
		if i := strings.IndexByte(cookie, '='); strings.HasSuffix(cookie, "=") {
			last := len(strings.TrimRight(cookie, "=")) - 1
			if last > i {
				flipped := base64URLValues[cookie[last]] ^ 1 // an unused bit
				variant = cookie[:last] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[flipped]) + cookie[last+1:]
			}
		}
	}
	in, err := m.Inspect(cookie)
	require.NoError(t, err)
	again, err := m.Inspect(variant)
	require.NoError(t, err, "securecookie opens the other text too")
	assert.Equal(t, in.ID, again.ID)

	serve(m, variant, func(_ http.ResponseWriter, s *Session) {
		require.NoError(t, m.RevokeSession(context.Background(), s))
	})
	_, err = m.Inspect(cookie)
	assert.ErrorIs(t, err, ErrRevoked)
}
