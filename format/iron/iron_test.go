package iron_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/iron"
	"github.com/cookiesession/cookiesession/internal/formattest"
	"github.com/cookiesession/cookiesession/internal/harness"
)

// Passwords of 32 characters and more, as iron-session wants them.
const (
	pwOld = "old-iron-password-0123456789abcdefghij"
	pwNew = "new-iron-password-0123456789abcdefghij"
	pwOne = "one-iron-password-0123456789abcdefghij"
)

func newManager(t *testing.T, opts cookiesession.Options, secrets ...string) *cookiesession.Manager {
	t.Helper()
	opts.Format = iron.Format{}
	opts.Name = "app_session"
	opts.Insecure = true
	opts.MaxAge = cmpOr(opts.MaxAge, time.Hour)
	return formattest.New(t, opts, secrets...)
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func TestSealOpen(t *testing.T) {
	m := newManager(t, cookiesession.Options{}, pwOne)
	lines := formattest.Save(t, m, "", func(s *cookiesession.Session) {
		s.Set("user", map[string]any{"id": 7, "name": "Zoë"})
	})
	require.Len(t, lines, 1)
	c, err := http.ParseSetCookie(lines[0])
	require.NoError(t, err)
	assert.Equal(t, 3600-60, c.MaxAge, "Max-Age is the ttl less iron's 60 s of clock skew")
	assert.True(t, strings.HasPrefix(c.Value, "Fe26.2*1*"), "id 1 for a password given without one")
	assert.True(t, strings.HasSuffix(c.Value, "~2"), "iron-session's version suffix")
	parts := strings.Split(strings.TrimSuffix(c.Value, "~2"), "*")
	require.Len(t, parts, 8)
	assert.Len(t, parts[2], 64, "a 256-bit salt in hex")
	assert.Len(t, parts[6], 64)

	s := m.LoadHeader(formattest.CookiesOf(lines))
	var user struct {
		ID   int
		Name string
	}
	require.True(t, s.Get("user", &user))
	assert.Equal(t, "Zoë", user.Name)
	assert.Empty(t, s.ID(), "iron-session keeps no ID")

	value := c.Value
	for name, tampered := range map[string]string{
		"a byte of the ciphertext": strings.Replace(value, parts[4][:4], "AAAA", 1),
		"the expiry":               strings.Replace(value, parts[5], parts[5][:len(parts[5])-1]+"9", 1),
		"the password id":          strings.Replace(value, "Fe26.2*1*", "Fe26.2*2*", 1),
		"another suffix":           strings.TrimSuffix(value, "~2") + "~3",
		"the MAC":                  value[:len(value)-4] + "AA~2",
		"a part too many":          strings.Replace(value, "*", "**", 1),
		"another prefix":           strings.Replace(value, "Fe26.2", "Fe26.1", 1),
		"uppercase salt":           strings.Replace(value, parts[2], strings.ToUpper(parts[2]), 1),
	} {
		t.Run(name, func(t *testing.T) {
			s := m.LoadHeader("app_session=" + tampered)
			assert.True(t, s.IsNew())
			assert.Empty(t, s.Keys())
		})
	}
	s = m.LoadHeader("app_session=" + strings.TrimSuffix(value, "~2"))
	assert.False(t, s.IsNew(), "a seal without the suffix is read, as iron-session 9 does")
}

// TestShortLifetime: a ttl of a minute or less keeps its whole Max-Age, as
// iron-session 9 sets it (8 would set 0 or less).
func TestShortLifetime(t *testing.T) {
	m := newManager(t, cookiesession.Options{MaxAge: time.Minute}, pwOne)
	lines := formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) })
	c, err := http.ParseSetCookie(lines[0])
	require.NoError(t, err)
	assert.Equal(t, 60, c.MaxAge)
	t.Run("as iron-session 9 sets it", func(t *testing.T) {
		app := startNode(t, "PASSWORD="+pwOne, "TTL=60")
		_, lines, _ := app.get(set(`{"n":1}`), "")
		c, err := http.ParseSetCookie(lines[0])
		require.NoError(t, err)
		assert.Equal(t, 60, c.MaxAge)
	})
}

func TestPasswords(t *testing.T) {
	for name, secrets := range map[string][]string{
		"shorter than 32 characters":    {"short-password-0123456789"},
		"31 characters with an id":      {"2:" + pwOne[:31]},
		"an id twice":                   {"2:" + pwNew, "2:" + pwOld},
		"an id and a password without":  {"1:" + pwNew, pwOld},
		"16 characters beyond the BMP ": {strings.Repeat("😀", 15)},
	} {
		t.Run(name, func(t *testing.T) {
			opts := cookiesession.Options{Format: iron.Format{}}
			for _, s := range secrets {
				opts.Secrets = append(opts.Secrets, []byte(s))
			}
			_, err := cookiesession.New(opts)
			assert.Error(t, err)
		})
	}
	// One PBKDF2 iteration makes a guessable password worst here: the
	// package's rule for secrets holds for iron-session passwords too.
	for _, weak := range []string{strings.Repeat("a", 32), strings.Repeat("password", 4), "1:" + strings.Repeat("ab", 16)} {
		_, err := cookiesession.New(cookiesession.Options{Format: iron.Format{}, Secrets: [][]byte{[]byte(weak)}})
		assert.ErrorIs(t, err, cookiesession.ErrWeakSecret, weak)
		formattest.WeakSecretRefused(t, iron.Format{}, "2:"+pwNew, weak, "iron-session password")
	}
	var astral []rune
	for r := rune(0x1F600); r < 0x1F610; r++ {
		astral = append(astral, r)
	}
	_, err := cookiesession.New(cookiesession.Options{Format: iron.Format{}, Secrets: [][]byte{[]byte(string(astral))}})
	assert.NoError(t, err, "16 characters beyond the BMP count 32 in JavaScript")
	_, err = cookiesession.New(cookiesession.Options{Format: iron.Format{}, MaxChunks: 5, Secrets: [][]byte{[]byte(pwOne)}})
	assert.Error(t, err, "iron-session 9 reads at most 4 chunks")

	old := newManager(t, cookiesession.Options{}, "1:"+pwOld)
	m := newManager(t, cookiesession.Options{}, "2:"+pwNew, "1:"+pwOld)
	lines := formattest.Save(t, old, "", func(s *cookiesession.Session) { s.Set("n", 1) })
	lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
		n, _ := cookiesession.Value[int](s, "n")
		assert.Equal(t, 1, n)
	})
	require.Len(t, lines, 1, "re-issued with the newest password")
	assert.Contains(t, lines[0], "=Fe26.2*2*")

	// The rollout's first step: the old password seals, the new one opens.
	first := newManager(t, cookiesession.Options{}, "1:"+pwOld, "2:"+pwNew)
	assert.False(t, first.LoadHeader(formattest.CookiesOf(lines)).IsNew(), "reads seals of password 2")
	lines = formattest.Save(t, first, "", func(s *cookiesession.Session) { s.Set("n", 2) })
	assert.Contains(t, lines[0], "=Fe26.2*1*", "seals with password 1, which the Node side still has alone")
}

func TestExpiry(t *testing.T) {
	m := newManager(t, cookiesession.Options{}, pwOne)
	before := time.Now()
	lines := formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) })
	value := strings.TrimPrefix(formattest.CookiesOf(lines), "app_session=")
	assert.InDelta(t, before.Add(time.Hour).UnixMilli(), expiryOf(t, value), 2000, "the expiry is sealed in milliseconds")

	sealer, err := iron.Format{}.NewSealer([][]byte{[]byte(pwOne)}, "app_session")
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		expires time.Time
		err     error
	}{
		"a second ago":       {time.Now().Add(-time.Second), cookiesession.ErrExpired},
		"in a minute":        {time.Now().Add(time.Minute), nil},
		"none (ttl 0)":       {time.Time{}, nil},
		"ten years from now": {time.Now().AddDate(10, 0, 0), nil},
	} {
		t.Run(name, func(t *testing.T) {
			value, err := sealer.Seal(&cookiesession.Record{Values: []cookiesession.Field{{Name: "n", JSON: "1"}}, Expires: tc.expires}, time.Now())
			require.NoError(t, err)
			in, err := m.Inspect("app_session=" + value)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err, "refused from the expiry on, without iron's 60 s")
				return
			}
			require.NoError(t, err)
			if tc.expires.IsZero() {
				assert.WithinDuration(t, time.Now().Add(time.Hour), in.Expires, 2*time.Second, "MaxAge from the read")
				assert.Empty(t, expiryText(t, value))
			}
		})
	}
}

func expiryText(t *testing.T, value string) string {
	t.Helper()
	parts := strings.Split(strings.TrimSuffix(value, "~2"), "*")
	require.Len(t, parts, 8)
	return parts[5]
}

func expiryOf(t *testing.T, value string) int64 {
	t.Helper()
	var ms int64
	require.NoError(t, json.Unmarshal([]byte(expiryText(t, value)), &ms))
	return ms
}

// node is the real iron-session, in testdata/iron.
type node struct {
	t   *testing.T
	url string
}

// startNode runs testdata/iron/app.js with env. Without node or the
// installed packages the test is skipped, unless CI is set.
func startNode(t *testing.T, env ...string) *node {
	t.Helper()
	return &node{t, harness.StartNode(t, "iron-session", "iron", "iron-session", "npm ci", append([]string{"COOKIE=app_session"}, env...)...)}
}

// get requests path with the Cookie header and returns the session JSON
// iron-session answers, the Set-Cookie lines and why iron-session 9
// refused the cookie, if it did.
func (n *node) get(path, cookie string) (session map[string]any, setCookie []string, refused string) {
	n.t.Helper()
	h := harness.Get(n.t, n.url+path, cookie, &session)
	return session, h.Values("Set-Cookie"), h.Get("X-Unseal-Error")
}

func set(values string) string { return "/set?json=" + url.QueryEscape(values) }

func TestInterop(t *testing.T) {
	for _, version := range []string{"9", "8"} {
		t.Run("iron-session "+version, func(t *testing.T) {
			t.Run("Node writes, Go reads and changes, Node reads", func(t *testing.T) {
				app := startNode(t, "VERSION="+version, "PASSWORD="+pwOne, "TTL=3600")
				m := newManager(t, cookiesession.Options{}, pwOne)
				_, lines, _ := app.get(set(`{"user":{"id":7,"name":"Zoë \"Z\" <b>"},"isLoggedIn":true}`), "")
				require.Len(t, lines, 1)
				c, err := http.ParseSetCookie(lines[0])
				require.NoError(t, err)
				assert.Equal(t, 3600-60, c.MaxAge, "iron-session's Max-Age, which the format copies")

				lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
					var user struct{ Name string }
					require.True(t, s.Get("user", &user))
					assert.Equal(t, `Zoë "Z" <b>`, user.Name)
					s.Set("cart", []int{1, 2})
				})
				session, _, refused := app.get("/get", formattest.CookiesOf(lines))
				assert.Empty(t, refused)
				assert.Equal(t, map[string]any{
					"user":       map[string]any{"id": float64(7), "name": `Zoë "Z" <b>`},
					"isLoggedIn": true,
					"cart":       []any{float64(1), float64(2)},
				}, session)
			})

			t.Run("a rotated password on each side", func(t *testing.T) {
				both := startNode(t, "VERSION="+version, `PASSWORD={"2":"`+pwNew+`","1":"`+pwOld+`"}`)
				old := newManager(t, cookiesession.Options{}, "1:"+pwOld)
				session, _, _ := both.get("/get", formattest.CookiesOf(formattest.Save(t, old, "", func(s *cookiesession.Session) { s.Set("by", "go, old password") })))
				assert.Equal(t, "go, old password", session["by"], "Node with both passwords reads Go's seal of the old one")

				oldNode := startNode(t, "VERSION="+version, `PASSWORD={"1":"`+pwOld+`"}`)
				_, lines, _ := oldNode.get(set(`{"by":"node, old password"}`), "")
				m := newManager(t, cookiesession.Options{}, "2:"+pwNew, "1:"+pwOld)
				lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
					by, _ := cookiesession.Value[string](s, "by")
					assert.Equal(t, "node, old password", by)
				})
				require.Len(t, lines, 1, "re-issued with password 2")
				newNode := startNode(t, "VERSION="+version, `PASSWORD={"2":"`+pwNew+`"}`)
				session, _, _ = newNode.get("/get", formattest.CookiesOf(lines))
				assert.Equal(t, "node, old password", session["by"], "Node with password 2 alone reads what Go re-issued")
			})

			t.Run("an expired session is refused on each side", func(t *testing.T) {
				app := startNode(t, "VERSION="+version, "PASSWORD="+pwOne, "TTL=3600")
				// Node's clock runs 61 minutes ahead, past the hour and
				// iron's 60 s of skew; and then as far behind.
				later := startNode(t, "VERSION="+version, "PASSWORD="+pwOne, "OFFSET=3660000")
				m := newManager(t, cookiesession.Options{}, pwOne)
				lines := formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) })
				session, _, _ := app.get("/get", formattest.CookiesOf(lines))
				assert.Equal(t, float64(1), session["n"], "Node reads Go's seal within the hour")
				session, _, refused := later.get("/get", formattest.CookiesOf(lines))
				assert.Empty(t, session, "Node refuses Go's seal once expired")
				if version == "9" {
					assert.Equal(t, "expired", refused)
				}

				earlier := startNode(t, "VERSION="+version, "PASSWORD="+pwOne, "TTL=3600", "OFFSET=-3660000")
				_, lines, _ = earlier.get(set(`{"n":2}`), "")
				_, err := m.Inspect(formattest.CookiesOf(lines))
				assert.ErrorIs(t, err, cookiesession.ErrExpired, "Go refuses Node's seal once expired")
			})

			t.Run("a tampered cookie is refused on each side", func(t *testing.T) {
				app := startNode(t, "VERSION="+version, "PASSWORD="+pwOne)
				m := newManager(t, cookiesession.Options{}, pwOne)
				_, lines, _ := app.get(set(`{"role":"user"}`), "")
				tampered := tamper(formattest.CookiesOf(lines))
				assert.True(t, m.LoadHeader(tampered).IsNew(), "Go refuses Node's seal, changed")
				tampered = tamper(formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("role", "user") })))
				session, _, refused := app.get("/get", tampered)
				assert.Empty(t, session, "Node refuses Go's seal, changed")
				if version == "9" {
					assert.Equal(t, "invalid", refused)
				}
			})
		})
	}

	t.Run("iron-session 9 chunks, both ways", func(t *testing.T) {
		app := startNode(t, "PASSWORD="+pwOne, "CHUNK=1")
		m := newManager(t, cookiesession.Options{MaxChunks: 4}, pwOne)
		big := strings.Repeat("ab", 3000)
		_, lines, _ := app.get(set(`{"big":"`+big+`"}`), "")
		assert.Equal(t, []string{"app_session.0", "app_session.1", "app_session.2"}, formattest.Names(lines), "8 KB of seal in 3 cookies")
		more := strings.Repeat("c", 1000)
		lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
			got, _ := cookiesession.Value[string](s, "big")
			assert.Equal(t, big, got)
			s.Set("more", more)
		})
		assert.Equal(t, []string{"app_session.0", "app_session.1", "app_session.2"}, formattest.Names(lines))
		session, _, refused := app.get("/get", formattest.CookiesOf(lines))
		assert.Empty(t, refused)
		assert.Equal(t, more, session["more"])

		// Shrunk into one cookie by Node, read by Go; and back.
		_, shrunk, _ := app.get(set(`{"big":"","more":""}`), formattest.CookiesOf(lines))
		assert.Equal(t, []string{"app_session", "app_session.0", "app_session.1", "app_session.2"}, formattest.Names(shrunk), "one cookie set, three deleted")
		lines = formattest.Save(t, m, formattest.CookiesOf(shrunk), func(s *cookiesession.Session) { s.Set("big", big) })
		assert.Equal(t, []string{"app_session.0", "app_session.1", "app_session.2", "app_session"}, formattest.Names(lines), "three set, one deleted")
		session, _, _ = app.get("/get", formattest.CookiesOf(lines))
		assert.Equal(t, big, session["big"])
	})

	t.Run("iron-session 8 reads nothing without the suffix", func(t *testing.T) {
		// Why the format always writes "~2": 8 takes a seal without it for
		// a v6 cookie and answers its "persistent" key, here none.
		app := startNode(t, "VERSION=8", "PASSWORD="+pwOne)
		m := newManager(t, cookiesession.Options{}, pwOne)
		header := formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) }))
		session, _, _ := app.get("/get", header)
		assert.Equal(t, float64(1), session["n"])
		session, _, _ = app.get("/get", strings.TrimSuffix(header, "~2"))
		assert.Empty(t, session)
	})
}

// tamper changes one character in the middle of the ciphertext.
func tamper(header string) string {
	i := strings.Index(header, "*") // after Fe26.2
	for k := 0; k < 3; k++ {
		i += strings.Index(header[i+1:], "*") + 1
	}
	i += 5
	c := byte('A')
	if header[i] == 'A' {
		c = 'B'
	}
	return header[:i] + string(c) + header[i+1:]
}

// TestRevocationNeedsALifetime: iron-session keeps no creation time, so it
// is the expiry less MaxAge, and New wants MaxAge set (iron-session's ttl)
// before NotBefore or Revocations can hold; a seal without an expiry (ttl
// 0) carries no time at all and is refused while revocation is in force.
func TestRevocationNeedsALifetime(t *testing.T) {
	opts := cookiesession.Options{Format: iron.Format{}, Name: "app_session", Secrets: [][]byte{[]byte(pwOne)}, NotBefore: time.Now().Add(-time.Minute)}
	_, err := cookiesession.New(opts)
	assert.ErrorContains(t, err, "need Options.MaxAge")

	sealer, err := iron.Format{}.NewSealer([][]byte{[]byte(pwOne)}, "app_session")
	require.NoError(t, err)
	ttl := 14 * 24 * time.Hour
	older, err := sealer.Seal(&cookiesession.Record{Expires: time.Now().Add(ttl - time.Hour), Values: []cookiesession.Field{{Name: "uid", JSON: `"42"`}}}, time.Now())
	require.NoError(t, err)
	forever, err := sealer.Seal(&cookiesession.Record{Values: []cookiesession.Field{{Name: "uid", JSON: `"42"`}}}, time.Now())
	require.NoError(t, err)

	opts.MaxAge = ttl
	m, err := cookiesession.New(opts)
	require.NoError(t, err)
	_, err = m.Inspect("app_session=" + older)
	assert.ErrorIs(t, err, cookiesession.ErrRevoked, "sealed an hour before NotBefore")
	formattest.Refused(t, m, "app_session="+forever, cookiesession.ErrRevoked)

	opts.NotBefore = time.Time{}
	m, err = cookiesession.New(opts)
	require.NoError(t, err)
	assert.False(t, m.LoadHeader("app_session="+forever).IsNew(), "without revocation it lives MaxAge from each read")
}
