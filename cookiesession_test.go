package cookiesession

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWritesOnlyWhenNeeded(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	populated := issue(t, m, func(s *Session) { s.Set("user", 7) })

	tests := []struct {
		name    string
		cookies browser
		handler func(http.ResponseWriter, *Session)
		wantSet bool
	}{
		{"new session not accessed", nil, noop, false},
		{"new session accessed but empty", nil, touch, false},
		{"new session set then deleted", nil, func(_ http.ResponseWriter, s *Session) { s.Set("a", 1); s.Delete("a") }, false},
		{"new session populated", nil, func(_ http.ResponseWriter, s *Session) { s.Set("a", 1) }, true},
		{"loaded, not accessed", populated, noop, false},
		{"loaded and unchanged", populated, func(_ http.ResponseWriter, s *Session) { _, _ = Value[int](s, "user") }, false},
		{"loaded, same value set again", populated, func(_ http.ResponseWriter, s *Session) { s.Set("user", 7) }, false},
		{"loaded and changed", populated, func(_ http.ResponseWriter, s *Session) { s.Set("user", 8) }, true},
		{"loaded and cleared", populated, func(_ http.ResponseWriter, s *Session) { s.Clear() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(m, tt.cookies.header(), tt.handler)
			assert.Equal(t, tt.wantSet, len(resp.Header.Values("Set-Cookie")) > 0, "Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
			assert.Empty(t, deleted(resp))
		})
	}
}

func TestUntouchedRequestsDecodeNothing(t *testing.T) {
	var logs bytes.Buffer
	m, _ := newTestManager(t, Options{Logger: debugLogger(&logs)})
	// A cookie that would be rejected (and cleared) if it were decoded.
	resp := serve(m, "session=garbage", noop)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Empty(t, logs.String(), "the cookie was never looked at")

	resp = serve(m, "session=garbage", touch)
	assert.Equal(t, []string{"session"}, deleted(resp))
	assert.Contains(t, logs.String(), "starting a new session")
}

func TestVaryOnlyWhenAccessed(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	assert.Empty(t, serve(m, "", noop).Header.Values("Vary"))
	assert.Equal(t, []string{"Cookie"}, serve(m, "", touch).Header.Values("Vary"))

	resp := serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("a", 1) })
	assert.Equal(t, `no-cache="Set-Cookie"`, resp.Header.Get("Cache-Control"))

	// An explicit Save inside the middleware does not repeat headers.
	resp = serve(m, "", func(w http.ResponseWriter, s *Session) {
		s.Set("a", 1)
		require.NoError(t, m.Save(w, s))
	})
	assert.Equal(t, []string{"Cookie"}, resp.Header.Values("Vary"))
	assert.Len(t, resp.Header.Values("Set-Cookie"), 1)
	assert.Len(t, resp.Header.Values("Cache-Control"), 1)
}

// Save's three fields share one array: adding to one of them afterwards
// must leave the others as they are, and values the handler set first
// stay in front.
func TestSaveFieldsStayApart(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	fields := []string{"Set-Cookie", "Cache-Control", "Vary"}
	for _, earlier := range [][]string{nil, {"theme=dark", "private", "Accept-Encoding"}} {
		w := httptest.NewRecorder()
		for i, v := range earlier {
			w.Header().Add(fields[i], v)
		}
		s := m.Load(httptest.NewRequest(http.MethodGet, "/", nil))
		s.Set("a", 1)
		require.NoError(t, m.Save(w, s))
		later := []string{"lang=en", "max-age=0", "Origin"}
		for i, v := range later {
			w.Header().Add(fields[i], v)
		}

		sessionLine := w.Header().Values("Set-Cookie")[len(earlier)/3]
		assert.True(t, strings.HasPrefix(sessionLine, "session="), sessionLine)
		ours := []string{sessionLine, `no-cache="Set-Cookie"`, "Cookie"}
		for i, f := range fields {
			var want []string
			if earlier != nil {
				want = append(want, earlier[i])
			}
			want = append(want, ours[i], later[i])
			assert.Equal(t, want, w.Header().Values(f), f)
		}
	}
}

func TestDefaultCookieAttributes(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	resp := serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("a", 1) })
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "session", c.Name)
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)
	assert.Equal(t, int(defaultMaxAge/time.Second), c.MaxAge)
}

func TestRoundTrip(t *testing.T) {
	type profile struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	m, _ := newTestManager(t, Options{})
	b := issue(t, m, func(s *Session) {
		s.Set("count", 41)
		s.Set("big", int64(1)<<53+1) // not representable as float64
		s.Set("tricky", `a;b, "c"\ d=e`)
		s.Set("profile", profile{Name: "Ada", Roles: []string{"admin"}})
	})

	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew())
		n, ok := Value[int](s, "count")
		assert.True(t, ok)
		assert.Equal(t, 41, n)
		big, ok := Value[int64](s, "big")
		assert.True(t, ok)
		assert.Equal(t, int64(1)<<53+1, big)
		str, ok := Value[string](s, "tricky")
		assert.True(t, ok)
		assert.Equal(t, `a;b, "c"\ d=e`, str)
		p, ok := Value[profile](s, "profile")
		assert.True(t, ok)
		assert.Equal(t, profile{Name: "Ada", Roles: []string{"admin"}}, p)
		assert.Equal(t, []string{"big", "count", "profile", "tricky"}, s.Keys())

		_, ok = Value[int](s, "tricky")
		assert.False(t, ok, "a string does not read as an int")
		_, ok = Value[int](s, "missing")
		assert.False(t, ok)
		var dst map[string]any
		assert.True(t, s.Get("profile", &dst))
		assert.Equal(t, "Ada", dst["name"])
	})
}

func TestValueSetIsCopiedAtSet(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := issue(t, m, func(s *Session) {
		list := []string{"a"}
		s.Set("list", list)
		list[0] = "changed after Set"
	})
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		v, _ := Value[[]string](s, "list")
		assert.Equal(t, []string{"a"}, v)
	})
}

func TestUnencodableValueFailsTheSave(t *testing.T) {
	var errs []error
	m, _ := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
		errs = append(errs, err)
		w.WriteHeader(http.StatusTeapot)
	}})
	resp := serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("ch", make(chan int)) })
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), `"ch"`)
	assert.Empty(t, resp.Cookies())
}

// TestFailedValueIsUndoable: a value that could not be stored fails the
// save only while the session still holds it. Replacing, deleting or
// clearing it, or destroying the session, lets the save (a logout, say)
// go through.
func TestFailedValueIsUndoable(t *testing.T) {
	m, _ := newTestManager(t, Options{Logger: debugLogger(&bytes.Buffer{})})
	bad := func(s *Session) { s.Set("f", func() {}) }
	for name, tc := range map[string]struct {
		fail, undo func(s *Session)
		saved      bool
	}{
		"kept":                     {bad, func(*Session) {}, false},
		"set again":                {bad, func(s *Session) { s.Set("f", 1) }, true},
		"deleted":                  {bad, func(s *Session) { s.Delete("f") }, true},
		"cleared":                  {bad, (*Session).Clear, true},
		"destroyed":                {bad, (*Session).Destroy, true},
		"another key set":          {bad, func(s *Session) { s.Set("g", 1) }, false},
		"renewed":                  {bad, (*Session).Renew, false},
		"subject kept":             {func(s *Session) { s.SetSubject("\xff") }, (*Session).Clear, false},
		"subject set again":        {func(s *Session) { s.SetSubject("\xff") }, func(s *Session) { s.SetSubject("ada") }, true},
		"two failures, one undone": {func(s *Session) { bad(s); s.Set("h", make(chan int)) }, func(s *Session) { s.Delete("f") }, false},
	} {
		t.Run(name, func(t *testing.T) {
			resp := serve(m, "", func(_ http.ResponseWriter, s *Session) {
				s.Set("user", 1)
				tc.fail(s)
				tc.undo(s)
			})
			if tc.saved {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				if !strings.Contains(name, "clear") && name != "destroyed" {
					assert.Equal(t, []string{"session"}, written(resp))
				}
			} else {
				assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			}
		})
	}
	// The logout of a session that already holds cookies.
	b := issue(t, m, func(s *Session) { s.Set("user", 1) })
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) {
		bad(s)
		s.Destroy()
	})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"session"}, deleted(resp))
}

// TestFailedSaveStillDeletes: a session destroyed, then given a value that
// cannot be stored, fails its save, but its cookies are deleted all the
// same, whoever answers: a logout never leaves the user logged in.
func TestFailedSaveStillDeletes(t *testing.T) {
	m, _ := newTestManager(t, Options{Logger: debugLogger(&bytes.Buffer{})})
	logout := func(s *Session) { s.Destroy(); s.Set("f", func() {}) }
	b := issue(t, m, func(s *Session) { s.Set("user", 1) })
	resp := serve(m, b.header(), func(_ http.ResponseWriter, s *Session) { logout(s) })
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, []string{"session"}, deleted(resp), "the middleware's 500 still deletes")

	resp = serve(m, b.header(), func(w http.ResponseWriter, s *Session) {
		logout(s)
		require.Error(t, m.Save(w, s))
		w.Header().Set("Location", "/")
		w.WriteHeader(http.StatusSeeOther)
	})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []string{"session"}, deleted(resp), "so does the handler's own answer")

	s := m.LoadHeader(b.header())
	logout(s)
	lines, err := m.SaveHeader(s)
	require.Error(t, err)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "Max-Age=0", "SaveHeader returns the deletions with the error")
}

// TestTooDeepToReadBack: encoding/json writes any depth but reads at most
// 10,000 levels, so Set refuses what Get could never return.
func TestTooDeepToReadBack(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 16})
	nested := func(depth int) any {
		var v any = 1
		for range depth {
			v = []any{v}
		}
		return v
	}
	s := m.LoadHeader()
	s.Set("deep", nested(20000))
	_, err := m.SaveHeader(s)
	assert.ErrorContains(t, err, `value for "deep": nested more than 10000 levels deep`)

	s = m.LoadHeader()
	s.Set("deep", nested(10000))
	s.Set("tricky", map[string]string{"[[[": "{{{", `\"[`: `"`})
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	var pairs []string
	for _, line := range lines {
		pairs = append(pairs, strings.SplitN(line, ";", 2)[0])
	}
	var got any
	assert.True(t, m.LoadHeader(strings.Join(pairs, "; ")).Get("deep", &got), "10,000 levels read back")
	assert.Equal(t, 10000, nestingDepth([]byte(mustJSON(t, nested(10000)))))
	assert.Equal(t, 1, nestingDepth([]byte(`{"[[[":"{{{","\\\"[":"\""}`)))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestFlashes(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := issue(t, m, func(s *Session) {
		s.AddFlash("saved")
		s.AddFlash("second")
	})
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.Equal(t, []string{"saved", "second"}, s.Flashes())
		assert.Empty(t, s.Flashes(), "reading removes them")
	})
	assert.NotEmpty(t, written(resp), "the emptied flash list is saved")
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.Empty(t, s.Flashes()) })
}

func TestDestroyDeletesEveryChunk(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 3, Domain: "example.com", Partitioned: true, SameSite: http.SameSiteStrictMode})
	b := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	require.Equal(t, []string{"session", "session.1", "session.2"}, b.names())

	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) {
		s.Destroy()
		assert.True(t, s.IsNew())
		assert.Empty(t, s.Keys())
	})
	assert.Equal(t, []string{"session", "session.1", "session.2"}, deleted(resp))
	assert.Empty(t, b)
	for _, line := range resp.Header.Values("Set-Cookie") {
		assert.Contains(t, line, "Domain=example.com")
		assert.Contains(t, line, "Path=/")
		assert.Contains(t, line, "Secure")
		assert.Contains(t, line, "SameSite=Strict")
		assert.Contains(t, line, "Partitioned")
		assert.Contains(t, line, "Max-Age=0")
	}
}

func TestDestroyThenSetStartsANewSession(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	var oldID string
	b := issue(t, m, func(s *Session) { s.Set("user", 1); oldID = s.ID() })
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		s.Destroy()
		s.AddFlash("logged out")
	})
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.NotEqual(t, oldID, s.ID())
		assert.False(t, s.IsNew())
		assert.Equal(t, []string{"logged out"}, s.Flashes())
		_, ok := Value[int](s, "user")
		assert.False(t, ok)
	})
}

func TestRenew(t *testing.T) {
	m, clk := newTestManager(t, Options{})
	var oldID string
	b := issue(t, m, func(s *Session) { s.Set("cart", 3); oldID = s.ID() })
	clk.Add(time.Hour)
	var newID string
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		s.Renew()
		newID = s.ID()
		assert.True(t, s.IsChanged())
	})
	assert.NotEqual(t, oldID, newID)
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.Equal(t, newID, s.ID())
		assert.Equal(t, clk.Now().Unix(), s.Created().Unix())
		assert.Equal(t, clk.Now().Add(defaultMaxAge).Unix(), s.Expires().Unix())
		v, _ := Value[int](s, "cart")
		assert.Equal(t, 3, v)
	})
}

func TestBadCookiesGiveAFreshSessionAndAreCleared(t *testing.T) {
	m, clk := newTestManager(t, Options{IdleTimeout: 30 * time.Minute})
	valid := issue(t, m, func(s *Session) { s.Set("user", "ada") })["session"].Value
	other, _ := newTestManager(t, Options{Secrets: [][]byte{testKey(9)}})
	foreign := issue(t, other, func(s *Session) { s.Set("user", "mallory") })["session"].Value

	flip := func(i int) string {
		b := []byte(valid)
		b[i] ^= 0x01
		return string(b)
	}
	tests := []struct {
		name   string
		header string
		before func()
	}{
		{"wrong key", "session=" + foreign, nil},
		{"tampered first byte", "session=" + flip(0), nil},
		{"tampered middle byte", "session=" + flip(len(valid)/2), nil},
		{"tampered near the end (the MAC)", "session=" + flip(len(valid)-6), nil},
		{"truncated", "session=" + valid[:len(valid)-4], nil},
		{"extended", "session=" + valid + "AAAA", nil},
		{"garbage", "session=%%%not-base64%%%", nil},
		{"empty", "session=", nil},
		{"absolute expiry", "session=" + valid, func() { clk.Add(25 * time.Hour) }},
		{"idle timeout", "session=" + valid, func() { clk.Add(31 * time.Minute) }},
	}
	start := clk.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.t = start
			if tt.before != nil {
				tt.before()
			}
			var logs bytes.Buffer
			m.logger = debugLogger(&logs)
			resp := serve(m, tt.header, func(_ http.ResponseWriter, s *Session) {
				assert.True(t, s.IsNew())
				assert.Empty(t, s.Keys())
			})
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, []string{"session"}, deleted(resp))
			assert.Contains(t, logs.String(), "starting a new session")
			if len(valid) > 20 {
				assert.NotContains(t, logs.String(), valid[5:20], "cookie contents must not be logged")
			}
		})
	}
}

func TestBadCookieWithNewValuesIsReplaced(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := browser{"session": {Name: "session", Value: "garbage"}}
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("a", 1) })
	assert.Equal(t, []string{"session"}, written(resp))
	assert.Empty(t, deleted(resp))
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
}

func TestCookieNameIsBoundIntoTheMAC(t *testing.T) {
	m, _ := newTestManager(t, Options{Name: "a"})
	other, _ := newTestManager(t, Options{Name: "b"})
	value := issue(t, m, func(s *Session) { s.Set("user", 1) })["a"].Value
	serve(other, "b="+value, func(_ http.ResponseWriter, s *Session) {
		assert.True(t, s.IsNew(), "a value moved to another cookie name must not verify")
	})
}

func TestExpiryIsEnforcedFromThePayload(t *testing.T) {
	m, clk := newTestManager(t, Options{MaxAge: time.Hour})
	b := issue(t, m, func(s *Session) { s.Set("a", 1) })
	clk.Add(59 * time.Minute)
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	clk.Add(time.Minute)
	// The browser would have dropped the cookie by now; a client that kept
	// it gets nothing.
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
}

func TestIdleTimeoutRollsWithoutWritingEveryRequest(t *testing.T) {
	m, clk := newTestManager(t, Options{IdleTimeout: 10 * time.Minute})
	b := issue(t, m, func(s *Session) { s.Set("a", 1) })
	assert.Equal(t, 600, b["session"].MaxAge, "the cookie lives as long as the idle window")

	clk.Add(30 * time.Second)
	resp := b.visit(m, touch)
	assert.Empty(t, resp.Cookies(), "no write within a tenth of the idle window")

	clk.Add(40 * time.Second) // 70 s since the last write
	resp = b.visit(m, touch)
	assert.Equal(t, []string{"session"}, written(resp), "activity renews the idle window")

	clk.Add(9 * time.Minute) // 9 min since the renewal: still alive
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })

	clk.Add(10 * time.Minute)
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "idle too long") })
}

func TestPerSessionLifetime(t *testing.T) {
	t.Run("not persistent: no Max-Age, kept on later writes", func(t *testing.T) {
		m, _ := newTestManager(t, Options{})
		b := issue(t, m, func(s *Session) { s.Set("a", 1); s.SetTransient(true) })
		assert.Zero(t, b["session"].MaxAge)
		assert.NotContains(t, b["session"].Raw, "Max-Age")
		resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("a", 2) })
		require.Len(t, resp.Cookies(), 1)
		assert.Zero(t, resp.Cookies()[0].MaxAge)
	})
	t.Run("transient by default, persistent on request", func(t *testing.T) {
		m, _ := newTestManager(t, Options{Transient: true})
		b := issue(t, m, func(s *Session) { s.Set("a", 1) })
		assert.Zero(t, b["session"].MaxAge)
		b = issue(t, m, func(s *Session) { s.Set("a", 1); s.SetTransient(false) })
		assert.Equal(t, int(defaultMaxAge/time.Second), b["session"].MaxAge)
	})
	t.Run("remember me for 30 days", func(t *testing.T) {
		m, clk := newTestManager(t, Options{})
		b := issue(t, m, func(s *Session) { s.Set("a", 1); s.SetMaxAge(30 * 24 * time.Hour) })
		assert.Equal(t, 30*24*3600, b["session"].MaxAge)
		clk.Add(29 * 24 * time.Hour)
		b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	})
	t.Run("shorter lifetime for one session", func(t *testing.T) {
		m, clk := newTestManager(t, Options{})
		b := issue(t, m, func(s *Session) { s.Set("a", 1); s.SetMaxAge(5 * time.Minute) })
		assert.Equal(t, 300, b["session"].MaxAge)
		clk.Add(5 * time.Minute)
		b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
	})
	t.Run("no lifetime destroys", func(t *testing.T) {
		m, _ := newTestManager(t, Options{})
		b := issue(t, m, func(s *Session) { s.Set("a", 1) })
		resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.SetMaxAge(0) })
		assert.Equal(t, []string{"session"}, deleted(resp))
	})
}

func TestKeyRotation(t *testing.T) {
	keyA, keyB := testKey(1), testKey(2)
	oldM, _ := newTestManager(t, Options{Secrets: [][]byte{keyA}, Domain: "example.com", SameSite: http.SameSiteStrictMode, Partitioned: true})
	b := issue(t, oldM, func(s *Session) { s.Set("user", 42) })
	issuedWithA := b["session"].Value

	rotated, _ := newTestManager(t, Options{Secrets: [][]byte{keyB, keyA}, Domain: "example.com", SameSite: http.SameSiteStrictMode, Partitioned: true})
	resp := b.visit(rotated, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew())
		v, _ := Value[int](s, "user")
		assert.Equal(t, 42, v)
		assert.False(t, s.IsChanged(), "the handler changed nothing")
	})
	require.Len(t, resp.Cookies(), 1, "an old-key cookie is re-issued even when unchanged")
	c := resp.Cookies()[0]
	assert.NotEqual(t, issuedWithA, c.Value)
	assert.Equal(t, "example.com", c.Domain)
	assert.Equal(t, "/", c.Path)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Partitioned)
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
	assert.Equal(t, int(defaultMaxAge/time.Second), c.MaxAge)

	resp = b.visit(rotated, touch)
	assert.Empty(t, resp.Cookies(), "a newest-key cookie is not re-issued")

	onlyB, _ := newTestManager(t, Options{Secrets: [][]byte{keyB}})
	b.visit(onlyB, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew(), "the re-issued cookie verifies with the new key alone")
	})
	serve(onlyB, "session="+issuedWithA, func(_ http.ResponseWriter, s *Session) {
		assert.True(t, s.IsNew(), "a retired key verifies nothing")
	})
}

func TestWeakKeysAreRefused(t *testing.T) {
	tests := map[string][][]byte{
		"no keys":          nil,
		"empty key":        {{}},
		"31 bytes":         {bytes.Repeat([]byte("k"), 31)},
		"one weak of two":  {testKey(1), []byte("short")},
		"one byte":         {bytes.Repeat([]byte("a"), 64)},
		"zeros":            {make([]byte, 32)},
		"two bytes":        {bytes.Repeat([]byte("ab"), 20)},
		"seven bytes":      {[]byte("abcdefgabcdefgfedcbagfedcbaabcdefgabcdefgfedcba")},
		"a pattern":        {bytes.Repeat([]byte("0123456789"), 4)},
		"a pattern cut":    {bytes.Repeat([]byte("correct-horse!"), 3)[:33]},
		"a password twice": {[]byte("hunter2-Summer2026hunter2-Summer2026")},
	}
	for name, keys := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options{Secrets: keys})
			require.ErrorIs(t, err, ErrWeakSecret)
		})
	}
	for name, key := range map[string]string{
		"generated":         string(GenerateSecret()),
		"hex":               "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"starts as it ends": "x" + string(GenerateSecret()) + "x",
	} {
		_, err := New(Options{Secrets: [][]byte{[]byte(key)}})
		assert.NoError(t, err, name)
	}
	_, err := New(Options{Secrets: [][]byte{[]byte("short but Express's")}, Format: FormatExpress})
	assert.NoError(t, err, "FormatExpress takes the Express application's keys as they are")
}

func TestGenerateSecretAndSecretsFromEnv(t *testing.T) {
	a, b := string(GenerateSecret()), string(GenerateSecret())
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 43)
	raw, err := base64.RawURLEncoding.DecodeString(a)
	require.NoError(t, err)
	assert.Len(t, raw, 32)

	t.Setenv("COOKIESESSION_SECRETS", " "+a+" , "+b+",")
	keys, err := SecretsFromEnv("COOKIESESSION_SECRETS")
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte(a), []byte(b)}, keys)
	_, err = New(Options{Secrets: keys})
	assert.NoError(t, err)

	t.Setenv("COOKIESESSION_SECRETS", " , ")
	_, err = SecretsFromEnv("COOKIESESSION_SECRETS")
	assert.ErrorIs(t, err, ErrWeakSecret)
	for _, list := range []string{a + " " + b, a + "\t" + b + "," + a, a + ",\n" + b + "\u00a0" + a} {
		t.Setenv("COOKIESESSION_SECRETS", list)
		_, err = SecretsFromEnv("COOKIESESSION_SECRETS")
		assert.ErrorIs(t, err, ErrWeakSecret, "%q", list)
		assert.ErrorContains(t, err, "separate secrets with commas")
	}
	_, err = SecretsFromEnv("COOKIESESSION_TEST_UNSET_VARIABLE")
	assert.ErrorContains(t, err, "not set")
}

// TestSecretStrengthIsNewsToCheck: SecretsFromEnv reads what the variable
// holds, short or not, and New refuses a weak secret with ErrWeakSecret,
// but for FormatExpress, which takes an Express application's keys as they
// are: only New knows the format.
func TestSecretStrengthIsNewsToCheck(t *testing.T) {
	t.Setenv("COOKIESESSION_SECRETS", "short")
	keys, err := SecretsFromEnv("COOKIESESSION_SECRETS")
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("short")}, keys)
	_, err = New(Options{Secrets: keys})
	assert.ErrorIs(t, err, ErrWeakSecret)
	_, err = New(Options{Secrets: keys, Format: FormatExpress})
	assert.NoError(t, err)
	m, err := New(Options{Secrets: [][]byte{testKey(1)}})
	require.NoError(t, err)
	assert.ErrorIs(t, m.ReplaceSecrets(keys), ErrWeakSecret)
}

func TestOptionsValidation(t *testing.T) {
	tests := map[string]Options{
		"__Host- with Domain":          {Name: "__Host-s", Domain: "example.com"},
		"__Host- with Path":            {Name: "__Host-s", Path: "/app"},
		"__Host- insecure":             {Name: "__Host-s", Insecure: true},
		"__Secure- insecure":           {Name: "__Secure-s", Insecure: true},
		"SameSite=None insecure":       {SameSite: http.SameSiteNoneMode, Insecure: true},
		"Partitioned insecure":         {Partitioned: true, Insecure: true},
		"invalid name":                 {Name: "a b"},
		"invalid path":                 {Path: "/a;b"},
		"invalid domain":               {Domain: "exa mple.com"},
		"MaxChunks too large":          {MaxChunks: 17},
		"negative MaxChunks":           {MaxChunks: -1},
		"MaxAge beyond 400 days":       {MaxAge: 401 * 24 * time.Hour},
		"negative IdleTimeout":         {IdleTimeout: -time.Second},
		"MaxCookieSize without room":   {MaxCookieSize: 100},
		"unknown format":               {Format: BuiltinFormat(99)},
		"negative MaxCookieSize":       {MaxCookieSize: -1},
		"MaxCookieSize over 4096":      {MaxCookieSize: 4097},
		"__host- in lower case":        {Name: "__host-s", Insecure: true},
		"__SECURE- in upper case":      {Name: "__SECURE-s", Insecure: true},
		"ScriptAccess, securecookie":   {ScriptAccess: true},
		"ScriptAccess, compact":        {ScriptAccess: true, Format: FormatCompact},
		"__Host- accepted by defaults": {},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			opts.Secrets = [][]byte{testKey(1)}
			_, err := New(opts)
			if name == "__Host- accepted by defaults" {
				opts.Name = "__Host-session"
				_, err = New(opts)
				assert.NoError(t, err)
				return
			}
			assert.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "cookiesession: "), err.Error())
		})
	}
	// Each mistake is named, one rule at a time.
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Name: "__Host-s", Insecure: true}, "needs Secure"},
		{Options{Name: "__Host-s", Path: "/app"}, `needs Path "/", not "/app"`},
		{Options{Name: "__Host-s", Domain: "example.com"}, `must not have a Domain ("example.com" is set)`},
		{Options{SameSite: 7}, "SameSite 7"},
		{Options{SameSite: -1}, "SameSite -1"},
		{Options{Path: "app"}, `Path "app" does not start with "/"`},
		{Options{MaxAge: time.Hour, IdleTimeout: 2 * time.Hour}, "IdleTimeout 2h0m0s is longer than MaxAge 1h0m0s"},
		{Options{IdleTimeout: 25 * time.Hour}, "longer than MaxAge 24h0m0s"},
		{Options{NotBefore: time.Now().Add(time.Minute)}, "NotBefore"},
		// The package's messages, not net/http's.
		{Options{Partitioned: true, Insecure: true}, "cookiesession: Partitioned needs Secure: unset Insecure"},
		{Options{Name: "my session"}, `cookiesession: Name "my session" is not a cookie name`},
		{Options{Name: "a=b"}, `Name "a=b" is not a cookie name`},
		{Options{Name: "caf\u00e9"}, "Name \"caf\u00e9\" is not a cookie name"},
	} {
		tc.opts.Secrets = [][]byte{testKey(1)}
		_, err := New(tc.opts)
		assert.ErrorContains(t, err, tc.want)
	}
	for _, ok := range []Options{
		{Name: "sid!#$%&'*+-.^_`|~"},
		{SameSite: http.SameSiteDefaultMode},
		{SameSite: http.SameSiteStrictMode},
		{MaxAge: time.Hour, IdleTimeout: time.Hour},
		{NotBefore: time.Now().Add(-time.Millisecond)},
	} {
		ok.Secrets = [][]byte{testKey(1)}
		_, err := New(ok)
		assert.NoError(t, err)
	}
	t.Run("ScriptAccess with the signed formats", func(t *testing.T) {
		_, err := New(Options{Secrets: [][]byte{testKey(1)}, ScriptAccess: true, Format: FormatSignOnly})
		assert.NoError(t, err)
		_, err = New(Options{Secrets: [][]byte{[]byte("express-key")}, ScriptAccess: true, Format: FormatExpress})
		assert.NoError(t, err)
	})
}

func TestSecureCookieCompatibility(t *testing.T) {
	secret := testKey(1)
	m, _ := newTestManager(t, Options{Secrets: [][]byte{secret}, Format: FormatSecureCookie})
	value := issue(t, m, func(s *Session) { s.Set("user", "ada") })["session"].Value

	// Plain securecookie, given the documented HKDF-derived keys, opens it.
	sc := securecookie.New(derive(secret, labelSCHash), derive(secret, labelSCBlock))
	sc.SetSerializer(securecookie.JSONEncoder{})
	var env struct {
		ID     string         `json:"i"`
		Values map[string]any `json:"v"`
	}
	require.NoError(t, sc.Decode("session", value, &env))
	assert.Equal(t, "ada", env.Values["user"])
	assert.Len(t, env.ID, 22)
	// And what it writes, we read.
	plain := fmt.Sprintf(`{"i":"x","c":%d,"e":%d,"v":{"user":"bob"}}`, m.now().Unix(), m.now().Add(time.Hour).Unix())
	sc.SetSerializer(rawJSON{})
	encoded, err := sc.Encode("session", []byte(plain))
	require.NoError(t, err)
	serve(m, "session="+encoded, func(_ http.ResponseWriter, s *Session) {
		v, _ := Value[string](s, "user")
		assert.Equal(t, "bob", v)
	})
}

func TestSignOnly(t *testing.T) {
	m, _ := newTestManager(t, Options{Format: FormatSignOnly})
	b := issue(t, m, func(s *Session) { s.Set("theme", "dark") })
	value := b["session"].Value

	// The client can read it: base64 of "date|base64(json)|mac".
	outer, err := base64.URLEncoding.DecodeString(value)
	require.NoError(t, err)
	parts := strings.SplitN(string(outer), "|", 3)
	require.Len(t, parts, 3)
	inner, err := base64.URLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	assert.Contains(t, string(inner), `"theme":"dark"`)

	// But not change it.
	forged := strings.Replace(string(outer), parts[1], base64.URLEncoding.EncodeToString(bytes.Replace(inner, []byte("dark"), []byte("pink"), 1)), 1)
	serve(m, "session="+base64.URLEncoding.EncodeToString([]byte(forged)), func(_ http.ResponseWriter, s *Session) {
		assert.True(t, s.IsNew())
	})
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		v, _ := Value[string](s, "theme")
		assert.Equal(t, "dark", v)
	})

	// A sign-only value is not accepted by an encrypting manager with the
	// same keys, nor the other way round.
	sealed, _ := newTestManager(t, Options{})
	serve(sealed, "session="+value, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
	sealedValue := issue(t, sealed, func(s *Session) { s.Set("a", 1) })["session"].Value
	serve(m, "session="+sealedValue, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
}

func TestTooLarge(t *testing.T) {
	big := randomText(4000)
	t.Run("Save returns a SizeError", func(t *testing.T) {
		m, _ := newTestManager(t, Options{})
		s := m.LoadHeader()
		s.Set("blob", big)
		err := m.Save(httptest.NewRecorder(), s)
		require.ErrorIs(t, err, ErrTooLarge)
		var se *SizeError
		require.ErrorAs(t, err, &se)
		assert.Greater(t, se.Size, se.Max)
		assert.Equal(t, defaultMaxCookieSize, se.Budget)
		assert.Equal(t, 1, se.MaxChunks)
		assert.Contains(t, err.Error(), fmt.Sprint(se.Size))
		assert.Contains(t, err.Error(), "4096")
	})
	t.Run("middleware answers 500 and logs", func(t *testing.T) {
		var logs bytes.Buffer
		m, _ := newTestManager(t, Options{Logger: debugLogger(&logs)})
		resp := serve(m, "", func(w http.ResponseWriter, s *Session) {
			s.Set("blob", big)
			_, err := io.WriteString(w, "partial page")
			assert.ErrorIs(t, err, ErrTooLarge, "the handler's write reports the failure")
		})
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		assert.NotContains(t, string(body), "partial page")
		assert.Empty(t, resp.Cookies())
		assert.Contains(t, logs.String(), "cannot save session")
	})
	t.Run("custom ErrorHandler gets the SizeError", func(t *testing.T) {
		var got error
		m, _ := newTestManager(t, Options{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}})
		resp := serve(m, "", func(_ http.ResponseWriter, s *Session) { s.Set("blob", big) })
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		var se *SizeError
		assert.ErrorAs(t, got, &se)
	})
}

// TestBudgetBoundary walks the value size across the one-cookie limit:
// every cookie written fits the budget, and ErrTooLarge comes only when it
// must.
func TestBudgetBoundary(t *testing.T) {
	for _, opts := range []Options{{}, {Format: FormatSignOnly}, {Name: "__Host-s", IdleTimeout: time.Hour, Partitioned: true}, {MaxCookieSize: 3000}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			m, _ := newTestManager(t, opts)
			budget := cmp.Or(opts.MaxCookieSize, defaultMaxCookieSize)
			longest, fitted, refused := 0, false, false
			for n := budget / 2; n < budget; n += 7 {
				s := m.LoadHeader()
				s.Set("v", randomText(n))
				lines, err := m.SaveHeader(s)
				if err != nil {
					require.ErrorIs(t, err, ErrTooLarge)
					var se *SizeError
					require.ErrorAs(t, err, &se)
					require.Greater(t, se.Size, se.Max)
					refused = true
					continue
				}
				require.False(t, refused, "a larger value fitted after a smaller one was refused")
				require.Len(t, lines, 1)
				require.LessOrEqual(t, len(lines[0]), budget)
				longest, fitted = len(lines[0]), true
			}
			assert.True(t, fitted && refused)
			assert.GreaterOrEqual(t, longest, budget-12, "the budget is used, not wasted")
		})
	}
}

// randomText returns n characters that do not compress.
func randomText(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))[:n]
}

func TestChunking(t *testing.T) {
	for _, tt := range []struct {
		size   int
		chunks []string
	}{
		{1000, []string{"session"}},
		{3000, []string{"session", "session.1"}},
		{6500, []string{"session", "session.1", "session.2"}},
		{10000, []string{"session", "session.1", "session.2", "session.3"}},
	} {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			m, _ := newTestManager(t, Options{MaxChunks: 4})
			blob := randomText(tt.size)
			b := browser{}
			resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("blob", blob) })
			assert.Equal(t, tt.chunks, b.names())
			for _, line := range resp.Header.Values("Set-Cookie") {
				assert.LessOrEqual(t, len(line), defaultMaxCookieSize)
			}
			resp = b.visit(m, func(_ http.ResponseWriter, s *Session) {
				v, _ := Value[string](s, "blob")
				assert.Equal(t, blob, v)
			})
			assert.Empty(t, resp.Cookies())
		})
	}
	t.Run("more than MaxChunks is ErrTooLarge", func(t *testing.T) {
		m, _ := newTestManager(t, Options{MaxChunks: 2})
		s := m.LoadHeader()
		s.Set("blob", randomText(6500))
		_, err := m.SaveHeader(s)
		var se *SizeError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 2, se.MaxChunks)
	})
}

func TestShrinkingDeletesStaleChunks(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 3, Path: "/app", Domain: "example.com"})
	b := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	require.Equal(t, []string{"session", "session.1", "session.2"}, b.names())

	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("blob", "small") })
	assert.Equal(t, []string{"session"}, written(resp))
	assert.Equal(t, []string{"session.1", "session.2"}, deleted(resp))
	for _, c := range resp.Cookies() {
		assert.Equal(t, "/app", c.Path)
		assert.Equal(t, "example.com", c.Domain)
		assert.True(t, c.Secure)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	}
	assert.Equal(t, []string{"session"}, b.names())
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		v, _ := Value[string](s, "blob")
		assert.Equal(t, "small", v)
	})
}

func TestBrokenChunkSets(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 3})
	gen1 := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	gen2 := issue(t, m, func(s *Session) { s.Set("blob", randomText(7000)) })
	require.Len(t, gen1, 3)
	require.Len(t, gen2, 3)
	small := issue(t, m, func(s *Session) { s.Set("blob", "small") })

	mix := func(cookies ...*http.Cookie) string {
		parts := make([]string, len(cookies))
		for i, c := range cookies {
			parts[i] = c.Name + "=" + c.Value
		}
		return strings.Join(parts, "; ")
	}
	tests := []struct {
		name       string
		header     string
		wantClears []string
	}{
		{"mixed generations", mix(gen1["session"], gen2["session.1"], gen1["session.2"]), []string{"session", "session.1", "session.2"}},
		{"missing middle chunk", mix(gen1["session"], gen1["session.2"]), []string{"session", "session.2"}},
		{"chunks without the head", mix(gen1["session.1"], gen1["session.2"]), []string{"session.1", "session.2"}},
		{"reordered chunks", "session=" + gen1["session"].Value + "; session.1=" + gen1["session.2"].Value + "; session.2=" + gen1["session.1"].Value, []string{"session", "session.1", "session.2"}},
		{"count too large", "session=1000000000|" + gen1["session"].Value[2:], []string{"session"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(m, tt.header, func(_ http.ResponseWriter, s *Session) {
				assert.True(t, s.IsNew(), "never a half session")
				assert.Empty(t, s.Keys())
			})
			assert.Equal(t, tt.wantClears, deleted(resp))
		})
	}

	t.Run("stale chunks after a one-cookie head are ignored and deleted", func(t *testing.T) {
		header := mix(small["session"], gen1["session.1"], gen1["session.2"])
		resp := serve(m, header, func(_ http.ResponseWriter, s *Session) {
			assert.False(t, s.IsNew())
			v, _ := Value[string](s, "blob")
			assert.Equal(t, "small", v)
		})
		assert.Equal(t, []string{"session.1", "session.2"}, deleted(resp))
		assert.Empty(t, written(resp))
	})
	t.Run("unrelated cookies with similar names are left alone", func(t *testing.T) {
		header := mix(small["session"]) + "; session.sig=abc; sessionx=1; other=2"
		resp := serve(m, header, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
		assert.Empty(t, resp.Cookies())
	})
}

func TestCommitPoints(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	set := func(s *Session) { s.Set("a", 1) }
	tests := map[string]func(w http.ResponseWriter, s *Session){
		"handler returns": func(_ http.ResponseWriter, s *Session) { set(s) },
		"WriteHeader": func(w http.ResponseWriter, s *Session) {
			set(s)
			w.WriteHeader(http.StatusCreated)
		},
		"Write": func(w http.ResponseWriter, s *Session) {
			set(s)
			_, _ = w.Write([]byte("hi"))
		},
		"ReadFrom": func(w http.ResponseWriter, s *Session) {
			set(s)
			_, _ = io.Copy(w, strings.NewReader("hi"))
		},
		"Flush": func(w http.ResponseWriter, s *Session) {
			set(s)
			w.(http.Flusher).Flush()
		},
		"ResponseController.Flush": func(w http.ResponseWriter, s *Session) {
			set(s)
			assert.NoError(t, http.NewResponseController(w).Flush())
		},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			resp := serve(m, "", h)
			// httptest.ResponseRecorder snapshots the header when it is
			// written, so a cookie added later would be missing here.
			assert.Len(t, resp.Cookies(), 1)
		})
	}
}

func TestEarlyHintsDoNotCommit(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		m.FromContext(r.Context()).Set("a", 1)
		w.WriteHeader(http.StatusOK)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, resp.Cookies(), 1, "the session set after 103 reaches the final response")
}

func TestChangesAfterTheHeaderAreLoggedAsLost(t *testing.T) {
	var logs bytes.Buffer
	m, _ := newTestManager(t, Options{Logger: debugLogger(&logs)})
	resp := serve(m, "", func(w http.ResponseWriter, s *Session) {
		_, _ = w.Write([]byte("page"))
		s.Set("late", true)
	})
	assert.Empty(t, resp.Cookies())
	assert.Contains(t, logs.String(), "the change is lost")
}

func TestExplicitLoadAndSave(t *testing.T) {
	m, _ := newTestManager(t, Options{MaxChunks: 2})
	s := m.LoadHeader()
	s.Set("user", "ada")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	require.Len(t, lines, 1)
	again, err := m.SaveHeader(s)
	require.NoError(t, err)
	assert.Empty(t, again, "saving twice writes nothing new")

	cookie := strings.SplitN(lines[0], ";", 2)[0]
	// Several Cookie header fields, as HTTP/2 clients send them.
	loaded := m.LoadHeader("theme=dark", cookie)
	v, _ := Value[string](loaded, "user")
	assert.Equal(t, "ada", v)

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Add("Cookie", "a=b")
	req.Header.Add("Cookie", cookie)
	s = m.Load(req)
	s.Set("user", "bob")
	rec := httptest.NewRecorder()
	require.NoError(t, m.Save(rec, s))
	require.Len(t, rec.Result().Cookies(), 1)
	assert.Equal(t, "Cookie", rec.Header().Get("Vary"))

	other, _ := newTestManager(t, Options{})
	_, err = other.SaveHeader(s)
	assert.Error(t, err, "a session saved by another manager")
}

func TestFromContextWithoutMiddlewarePanics(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	assert.PanicsWithValue(t, "cookiesession: no session in context; is the handler wrapped in Manager.Middleware?", func() {
		m.FromContext(httptest.NewRequest(http.MethodGet, "/", nil).Context())
	})
}

func TestTwoManagersOnOneRequest(t *testing.T) {
	a, _ := newTestManager(t, Options{Name: "a"})
	b, _ := newTestManager(t, Options{Name: "b"})
	h := a.Middleware(b.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		a.FromContext(r.Context()).Set("from", "a")
		b.FromContext(r.Context()).Set("from", "b")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	names := []string{}
	for _, c := range rec.Result().Cookies() {
		names = append(names, c.Name)
	}
	assert.ElementsMatch(t, []string{"a", "b"}, names)
}

func TestConcurrentUseOfOneSession(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := browser{}
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 50 {
					s.Set(fmt.Sprintf("g%d", i), j)
					_, _ = Value[int](s, "g0")
					s.Keys()
				}
			}()
		}
		wg.Wait()
	})
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.Len(t, s.Keys(), 8)
		v, _ := Value[int](s, "g7")
		assert.Equal(t, 49, v)
	})
}

func TestConcurrentRequests(t *testing.T) {
	m, err := New(Options{Secrets: [][]byte{testKey(1), testKey(2)}})
	require.NoError(t, err)
	srv := counterServer(t, m)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cookie := ""
			for i := 1; i <= 20; i++ {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != fmt.Sprint(i) {
					errs <- fmt.Errorf("request %d counted %s", i, body)
					return
				}
				cookie = "session=" + resp.Cookies()[0].Value
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	var se error = &SizeError{Size: 5000, Max: 4000, Budget: 4096, MaxChunks: 1}
	assert.True(t, errors.Is(fmt.Errorf("wrapped: %w", se), ErrTooLarge))
	assert.False(t, errors.Is(se, ErrWeakSecret))
}

// TestGoModRequiresOnlyTheLibrarysDependencies: whatever a user's module
// requires this package for, it pulls in only what the library uses.
// Anything else (comparisons, browsers, Redis) lives in a module of its
// own beside this one.
func TestGoModRequiresOnlyTheLibrarysDependencies(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	var direct []string
	inBlock := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && !strings.Contains(line, "// indirect") {
			direct = append(direct, f[0])
		}
	}
	assert.ElementsMatch(t, []string{"github.com/gorilla/securecookie", "golang.org/x/crypto", "github.com/stretchr/testify"}, direct)
}
