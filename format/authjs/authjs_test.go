package authjs_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/authjs"
	"github.com/cookiesession/cookiesession/internal/formattest"
	"github.com/cookiesession/cookiesession/internal/harness"
)

// Secrets as `npx auth secret` makes them: 32 random bytes, base64.
const (
	secretOne = "q8Vb2Yt0nJm7rQ4xW1sZp9kL3dF6hG5cA0eR2tY7uI8="
	secretNew = "N3wS3cr3tK9mQ2vX7pL4zR8tY1uW6eA5sD0fG3hJ2kM="
	secretOld = "0ldS3cr3tB5nV8cX2zQ7wE4rT1yU9iO6pA3sD8fG5hL="
	v5Cookie  = "authjs.session-token"
	v4Cookie  = "next-auth.session-token"
)

func newManager(t *testing.T, format cookiesession.Format, name string, opts cookiesession.Options, secrets ...string) *cookiesession.Manager {
	t.Helper()
	opts.Format, opts.Name, opts.Insecure = format, name, !strings.HasPrefix(name, "__Secure-")
	if opts.MaxAge == 0 {
		opts.MaxAge = 30 * 24 * time.Hour
	}
	return formattest.New(t, opts, secrets...)
}

// jwtHeader decodes the protected header of the token in a cookie line.
func jwtHeader(t *testing.T, line string) map[string]any {
	t.Helper()
	c, err := http.ParseSetCookie(line)
	require.NoError(t, err)
	head, _, _ := strings.Cut(c.Value, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw, &h))
	return h
}

func TestSealOpen(t *testing.T) {
	for _, tc := range []struct {
		format cookiesession.Format
		name   string
		header map[string]any
	}{
		{authjs.Format{}, v5Cookie, map[string]any{"alg": "dir", "enc": "A256CBC-HS512"}},
		{authjs.NextAuth4{}, v4Cookie, map[string]any{"alg": "dir", "enc": "A256GCM"}},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			m := newManager(t, tc.format, tc.name, cookiesession.Options{}, secretOne)
			lines := formattest.Save(t, m, "", func(s *cookiesession.Session) {
				s.SetSubject("user-ada")
				s.Set("email", "ada@example.com")
			})
			require.Len(t, lines, 1)
			h := jwtHeader(t, lines[0])
			if _, ok := tc.header["enc"]; ok && tc.header["enc"] == "A256CBC-HS512" {
				assert.NotEmpty(t, h["kid"], "v5 names the key by its thumbprint")
				delete(h, "kid")
			}
			assert.Equal(t, tc.header, h)

			s := m.LoadHeader(formattest.CookiesOf(lines))
			assert.Equal(t, "user-ada", s.Subject(), "sub")
			email, _ := cookiesession.Value[string](s, "email")
			assert.Equal(t, "ada@example.com", email)
			assert.NotEmpty(t, s.ID(), "jti")
			assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), s.Expires(), 2*time.Second, "exp")

			value := strings.TrimPrefix(formattest.CookiesOf(lines), tc.name+"=")
			parts := strings.Split(value, ".")
			flip := func(s string) string {
				c := byte('A')
				if s[3] == 'A' {
					c = 'B'
				}
				return s[:3] + string(c) + s[4:]
			}
			for name, tampered := range map[string]string{
				"ciphertext":       strings.Join([]string{parts[0], "", parts[2], flip(parts[3]), parts[4]}, "."),
				"tag":              strings.Join([]string{parts[0], "", parts[2], parts[3], flip(parts[4])}, "."),
				"iv":               strings.Join([]string{parts[0], "", flip(parts[2]), parts[3], parts[4]}, "."),
				"an encrypted key": strings.Join([]string{parts[0], "AAAA", parts[2], parts[3], parts[4]}, "."),
				"a part less":      strings.Join([]string{parts[0], parts[2], parts[3], parts[4]}, "."),
				"alg none":         strings.Join([]string{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","enc":"A256GCM"}`)), "", parts[2], parts[3], parts[4]}, "."),
			} {
				t.Run(name, func(t *testing.T) {
					s := m.LoadHeader(tc.name + "=" + tampered)
					assert.True(t, s.IsNew())
				})
			}
		})
	}
	_, err := cookiesession.New(cookiesession.Options{Format: authjs.Format{}, Secrets: [][]byte{[]byte("short secret")}})
	assert.ErrorIs(t, err, cookiesession.ErrWeakSecret)
	formattest.WeakSecretRefused(t, authjs.Format{}, secretNew, "short secret", "Auth.js secret")
}

func TestSecretList(t *testing.T) {
	old := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOld)
	m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretNew, secretOld)
	oldKid := jwtHeader(t, formattest.Save(t, old, "", func(s *cookiesession.Session) { s.Set("n", 0) })[0])["kid"]
	lines := formattest.Save(t, old, "", func(s *cookiesession.Session) { s.Set("n", 1) })
	lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
		n, _ := cookiesession.Value[int](s, "n")
		assert.Equal(t, 1, n)
	})
	require.Len(t, lines, 1, "re-issued with the newest secret")
	assert.NotEqual(t, oldKid, jwtHeader(t, lines[0])["kid"])
	assert.True(t, old.LoadHeader(formattest.CookiesOf(lines)).IsNew(), "the old secret alone does not read it")

	// The salt is the cookie name: a token does not move to another name.
	other := newManager(t, authjs.Format{}, "__Secure-"+v5Cookie, cookiesession.Options{}, secretNew)
	assert.True(t, other.LoadHeader("__Secure-"+formattest.CookiesOf(lines)).IsNew())
}

// node is the real Auth.js or next-auth, in testdata/authjs.
type node struct {
	t   *testing.T
	url string
}

func startNode(t *testing.T, env ...string) *node {
	t.Helper()
	return &node{t, harness.StartNode(t, "Auth.js", "authjs", "@auth/core", "npm ci --legacy-peer-deps", env...)}
}

// get requests path with the Cookie header and returns the JSON answer and
// the Set-Cookie lines.
func (n *node) get(path, cookie string) (map[string]any, []string) {
	n.t.Helper()
	var answer map[string]any
	h := harness.Get(n.t, n.url+path, cookie, &answer)
	return answer, h.Values("Set-Cookie")
}

// login signs in on the Node side and returns the session's Set-Cookie lines.
func (n *node) login(user, claims string) []string {
	n.t.Helper()
	answer, lines := n.get("/login?user="+user+"&claims="+url.QueryEscape(claims), "")
	require.Equal(n.t, float64(302), answer["status"], "Auth.js redirects after signing in")
	require.NotEmpty(n.t, lines)
	return lines
}

// token returns the claims Auth.js's session endpoint reads, or nil.
func (n *node) token(cookie string) map[string]any {
	n.t.Helper()
	answer, _ := n.get("/session", cookie)
	token, _ := answer["token"].(map[string]any)
	return token
}

func TestAuthJSInterop(t *testing.T) {
	env := []string{"SECRETS=" + secretOne, "COOKIE=" + v5Cookie}

	t.Run("Auth.js signs in, Go reads and changes, Auth.js reads", func(t *testing.T) {
		app := startNode(t, env...)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOne)
		lines := app.login("ada", `{"role":"reader","prefs":{"theme":"dark"}}`)
		lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
			assert.Equal(t, "user-ada", s.Subject(), "sub")
			var email, role string
			require.True(t, s.Get("email", &email))
			require.True(t, s.Get("role", &role))
			assert.Equal(t, "ada@example.com", email)
			assert.Equal(t, "reader", role)
			assert.NotEmpty(t, s.ID(), "jti")
			assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), s.Expires(), 5*time.Second, "exp: Auth.js's 30 days")
			assert.WithinDuration(t, time.Now(), s.Created(), 5*time.Second, "iat")
			s.Set("role", "editor")
		})
		token := app.token(formattest.CookiesOf(lines))
		require.NotNil(t, token, "Auth.js reads Go's token")
		assert.Equal(t, "editor", token["role"])
		assert.Equal(t, "user-ada", token["sub"])
		assert.Equal(t, "ada@example.com", token["email"])
		assert.Equal(t, map[string]any{"theme": "dark"}, token["prefs"])
		for _, claim := range []string{"iat", "exp", "jti"} {
			assert.NotNil(t, token[claim], claim)
		}
	})

	t.Run("a secret list on each side", func(t *testing.T) {
		both := startNode(t, "SECRETS="+secretNew+","+secretOld, "COOKIE="+v5Cookie)
		old := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOld)
		lines := formattest.Save(t, old, "", func(s *cookiesession.Session) { s.Set("by", "go, old secret") })
		assert.Equal(t, "go, old secret", both.token(formattest.CookiesOf(lines))["by"], "Auth.js with [new, old] reads Go's token of the old secret")

		oldApp := startNode(t, "SECRETS="+secretOld, "COOKIE="+v5Cookie)
		lines = oldApp.login("bob", `{"by":"node, old secret"}`)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretNew, secretOld)
		lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
			by, _ := cookiesession.Value[string](s, "by")
			assert.Equal(t, "node, old secret", by)
		})
		require.Len(t, lines, 1, "re-issued with the new secret")
		newApp := startNode(t, "SECRETS="+secretNew, "COOKIE="+v5Cookie)
		assert.Equal(t, "node, old secret", newApp.token(formattest.CookiesOf(lines))["by"], "Auth.js with the new secret alone reads what Go re-issued")
	})

	t.Run("an expired session is refused on each side", func(t *testing.T) {
		app := startNode(t, env...)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{MaxAge: time.Hour}, secretOne)
		lines := formattest.Save(t, m, "", func(s *cookiesession.Session) { s.SetSubject("user-cy") })
		assert.NotNil(t, app.token(formattest.CookiesOf(lines)), "read within the hour")
		// 15 s past the hour is within Auth.js's tolerance; 16 s is not.
		later := startNode(t, append(env, "OFFSET=3616000")...)
		assert.Nil(t, later.token(formattest.CookiesOf(lines)), "Auth.js refuses Go's token once expired")

		earlier := startNode(t, append(env, "OFFSET=-2592001000")...) // 30 days and a second ago
		lines = earlier.login("cy", `{}`)
		_, err := m.Inspect(formattest.CookiesOf(lines))
		assert.ErrorIs(t, err, cookiesession.ErrExpired, "Go refuses Auth.js's token once expired")
	})

	t.Run("a tampered cookie is refused on each side", func(t *testing.T) {
		app := startNode(t, env...)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOne)
		tampered := tamper(formattest.CookiesOf(app.login("dee", `{}`)))
		assert.True(t, m.LoadHeader(tampered).IsNew(), "Go refuses Auth.js's token, changed")
		tampered = tamper(formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.SetSubject("user-dee") })))
		assert.Nil(t, app.token(tampered), "Auth.js refuses Go's token, changed")
	})

	t.Run("an A256GCM token, which Auth.js also reads", func(t *testing.T) {
		app := startNode(t, env...)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOne)
		answer, _ := app.get("/gcm?claims="+url.QueryEscape(`{"sub":"user-gcm","email":"g@example.com"}`), "")
		decoded, _ := answer["decoded"].(map[string]any)
		require.Equal(t, "user-gcm", decoded["sub"], "@auth/core's decode reads it")
		token, _ := answer["token"].(string)
		s := m.LoadHeader(v5Cookie + "=" + token)
		assert.Equal(t, "user-gcm", s.Subject(), "and so does Go")
		email, _ := cookiesession.Value[string](s, "email")
		assert.Equal(t, "g@example.com", email)
	})

	t.Run("chunks, both ways", func(t *testing.T) {
		app := startNode(t, env...)
		m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{MaxChunks: 4}, secretOne)
		big := strings.Repeat("ab", 2500)
		lines := app.login("eve", `{"big":"`+big+`"}`)
		assert.Equal(t, []string{v5Cookie + ".0", v5Cookie + ".1"}, formattest.Names(lines), "Auth.js splits at 3,936 characters")
		more := strings.Repeat("c", 4000)
		lines = formattest.Save(t, m, formattest.CookiesOf(lines), func(s *cookiesession.Session) {
			got, _ := cookiesession.Value[string](s, "big")
			assert.Equal(t, big, got)
			s.Set("more", more)
		})
		assert.Equal(t, []string{v5Cookie + ".0", v5Cookie + ".1", v5Cookie + ".2", v5Cookie + ".3"}, formattest.Names(lines))
		token := app.token(formattest.CookiesOf(lines))
		require.NotNil(t, token, "Auth.js joins Go's chunks")
		assert.Equal(t, more, token["more"])
	})
}

func TestNextAuth4Interop(t *testing.T) {
	env := []string{"VERSION=4", "SECRETS=" + secretOne, "COOKIE=" + v4Cookie}
	app := startNode(t, env...)
	m := newManager(t, authjs.NextAuth4{}, v4Cookie, cookiesession.Options{MaxChunks: 3}, secretOne)

	t.Run("next-auth writes, Go reads and changes, next-auth reads", func(t *testing.T) {
		answer, _ := app.get("/encode?claims="+url.QueryEscape(`{"sub":"user-ada","name":"Ada","email":"ada@example.com"}`), "")
		token, _ := answer["token"].(string)
		lines := formattest.Save(t, m, v4Cookie+"="+token, func(s *cookiesession.Session) {
			assert.Equal(t, "user-ada", s.Subject())
			name, _ := cookiesession.Value[string](s, "name")
			assert.Equal(t, "Ada", name)
			assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), s.Expires(), 5*time.Second)
			s.Set("name", "Ada L.")
		})
		answer, _ = app.get("/token", formattest.CookiesOf(lines))
		claims, _ := answer["token"].(map[string]any)
		require.NotNil(t, claims, "getToken reads Go's token")
		assert.Equal(t, "Ada L.", claims["name"])
		assert.Equal(t, "user-ada", claims["sub"])
	})

	t.Run("chunks written by Go are joined by getToken", func(t *testing.T) {
		big := strings.Repeat("x", 6000)
		lines := formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("big", big) })
		assert.Equal(t, []string{v4Cookie + ".0", v4Cookie + ".1", v4Cookie + ".2"}, formattest.Names(lines), "8 KB of token")
		answer, _ := app.get("/token", formattest.CookiesOf(lines))
		claims, _ := answer["token"].(map[string]any)
		require.NotNil(t, claims)
		assert.Equal(t, big, claims["big"])
	})

	t.Run("another secret, an expired or a tampered token is refused on each side", func(t *testing.T) {
		other := newManager(t, authjs.NextAuth4{}, v4Cookie, cookiesession.Options{}, secretNew)
		lines := formattest.Save(t, other, "", func(s *cookiesession.Session) { s.Set("n", 1) })
		answer, _ := app.get("/token", formattest.CookiesOf(lines))
		assert.Nil(t, answer["token"], "next-auth refuses a token of another secret")
		answer, _ = app.get("/token", tamper(formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) }))))
		assert.Nil(t, answer["token"], "next-auth refuses Go's token, changed")

		later := startNode(t, append(env, "OFFSET=2592016000")...) // 30 days and 16 s later
		answer, _ = later.get("/token", formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("n", 1) })))
		assert.Nil(t, answer["token"], "next-auth refuses Go's token once expired")

		earlier := startNode(t, append(env, "OFFSET=-2592001000")...)
		answer, _ = earlier.get("/encode?claims={}", "")
		token, _ := answer["token"].(string)
		_, err := m.Inspect(v4Cookie + "=" + token)
		assert.ErrorIs(t, err, cookiesession.ErrExpired, "Go refuses next-auth's token once expired")
		answer, _ = app.get("/encode?claims={}", "")
		token, _ = answer["token"].(string)
		assert.True(t, m.LoadHeader(v4Cookie+"="+tamper(token)).IsNew(), "Go refuses next-auth's token, changed")
	})
}

// tamper changes one character in the middle of the ciphertext.
func tamper(header string) string {
	dot := strings.Index(header, "..")
	i := dot + 2 + strings.Index(header[dot+2:], ".") + 5
	c := byte('A')
	if header[i] == 'A' {
		c = 'B'
	}
	return header[:i] + string(c) + header[i+1:]
}

func TestMappedClaimsAreNotValues(t *testing.T) {
	m := newManager(t, authjs.Format{}, v5Cookie, cookiesession.Options{}, secretOne)
	for _, claim := range []string{"exp", "iat", "jti", "sub"} {
		s := m.LoadHeader()
		s.Set(claim, 1)
		_, err := m.SaveHeader(s)
		assert.ErrorContains(t, err, "the claim \""+claim+"\" is the session's own", "never dropped silently")
	}
}
