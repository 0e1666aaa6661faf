package cookiesession

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxCookieSizeIsAtMost4096: the package never writes a cookie that
// browsers would drop, so a budget above 4096 bytes is refused at New
// rather than turned into Set-Cookie lines of 7 KB.
func TestMaxCookieSizeIsAtMost4096(t *testing.T) {
	_, err := New(Options{Secrets: [][]byte{testKey(1)}, MaxCookieSize: 10000})
	assert.ErrorContains(t, err, "MaxCookieSize 10000 is over 4096")
	m, err := New(Options{Secrets: [][]byte{testKey(1)}, MaxCookieSize: 4096})
	require.NoError(t, err)
	s := m.LoadHeader()
	s.Set("blob", randomText(7000))
	_, err = m.SaveHeader(s)
	assert.ErrorIs(t, err, ErrTooLarge)
}

// TestInvalidUTF8IsStoredAsJSONDoes: text that is not valid UTF-8 comes
// from clients (a form field sent as user=bad%ffname), so it never makes
// a request fail: it is stored as encoding/json stores it, each invalid
// byte as U+FFFD, and counted. Only what the program alone can cause (a
// channel, a function, a cycle) fails the save.
func TestInvalidUTF8IsStoredAsJSONDoes(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	login := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		s.Set("user", r.FormValue("user"))
		s.AddFlash("Welcome, " + r.FormValue("user"))
		fmt.Fprint(w, "ok")
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login?user=bad%ffname", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	cookie, _, _ := strings.Cut(rec.Header().Get("Set-Cookie"), ";")
	require.NotEmpty(t, cookie)
	s := m.LoadHeader(cookie)
	user, ok := Value[string](s, "user")
	assert.True(t, ok)
	assert.Equal(t, "bad\ufffdname", user)
	assert.Equal(t, []string{"Welcome, bad\ufffdname"}, s.Flashes())
	assert.Equal(t, uint64(2), m.Counts().InvalidUTF8, "the value and the flash message")

	type tagged struct {
		Name string `json:"name"`
	}
	cycle := map[string]any{}
	cycle["self"] = cycle
	for name, tc := range map[string]struct {
		key   string
		value any
	}{
		"string":                  {"name", "Ren\xe9"},
		"two bytes, two U+FFFD":   {"name", "a\xff\xfeb"},
		"a truncated sequence":    {"name", "\xc3"},
		"nested":                  {"tags", map[string][]string{"a": {"ok", "\xc3"}}},
		"map key":                 {"m", map[string]int{"\xff": 1}},
		"struct field":            {"t", tagged{Name: "x\x80y"}},
		"key":                     {"user\xff", 1},
		"json.RawMessage":         {"raw", json.RawMessage("\"\xff\"")},
		"MarshalJSON passthrough": {"raw", rawMarshaler("[\"\xe2\x82\"]")},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := newTestManager(t, Options{})
			s := m.LoadHeader()
			s.Set(tc.key, tc.value)
			lines, err := m.SaveHeader(s)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), m.Counts().InvalidUTF8)
			// What encoding/json gives back for the value, and where.
			want, err := json.Marshal(tc.value)
			require.NoError(t, err)
			var wantValue any
			require.NoError(t, json.Unmarshal(want, &wantValue))
			key, _ := validUTF8(tc.key)
			again := m.LoadHeader(strings.SplitN(lines[0], ";", 2)[0])
			var got any
			require.True(t, again.Get(key, &got), "under the key as stored")
			assert.Equal(t, wantValue, got)
			assert.True(t, again.Get(tc.key, &got), "and as it was given")
			assert.Equal(t, []string{key}, again.Keys())
		})
	}
	// Each invalid byte is one U+FFFD, as in encoding/json.
	for in, want := range map[string]string{"a\xff\xfeb": "a\ufffd\ufffdb", "\xe2\x82": "\ufffd\ufffd", "\ufffd": "\ufffd"} {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		var viaJSON string
		require.NoError(t, json.Unmarshal(b, &viaJSON))
		got, _ := validUTF8(in)
		assert.Equal(t, viaJSON, got)
		assert.Equal(t, want, got)
	}

	// Text that only looks like a replacement is stored as it is, and
	// counts nothing.
	m, _ = newTestManager(t, Options{})
	s = m.LoadHeader()
	for _, v := range []string{"\ufffd", `\ufffd`, `\\ufffd`, "é\\"} {
		s.Set(v, v)
	}
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	again := m.LoadHeader(strings.SplitN(lines[0], ";", 2)[0])
	for _, v := range []string{"\ufffd", `\ufffd`, `\\ufffd`, "é\\"} {
		got, _ := Value[string](again, v)
		assert.Equal(t, v, got)
	}
	assert.Zero(t, m.Counts().InvalidUTF8)

	// What only the program can cause still fails the save, naming the key.
	for key, v := range map[string]any{"ch": make(chan int), "f": func() {}, "cycle": cycle} {
		s := m.LoadHeader()
		s.Set(key, v)
		_, err := m.SaveHeader(s)
		assert.ErrorContains(t, err, fmt.Sprintf("value for %q", key))
	}
}

// rawMarshaler returns its own text as JSON, unchecked for UTF-8, as
// encoding/json passes it on.
type rawMarshaler string

func (r rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestSessionsOfMoreChunksThanMaxChunksAreRead: raising MaxChunks one
// replica at a time logs nobody out. A replica that writes one cookie
// reads the sessions of one that writes three, or sixteen; writing still
// keeps to its own MaxChunks.
func TestSessionsOfMoreChunksThanMaxChunksAreRead(t *testing.T) {
	one, _ := newTestManager(t, Options{MaxChunks: 1})
	for n, size := range map[int]int{3: 6000, maxChunksLimit: 48100} {
		t.Run(fmt.Sprintf("%d chunks", n), func(t *testing.T) {
			many, _ := newTestManager(t, Options{MaxChunks: n})
			big := issue(t, many, func(s *Session) {
				s.Set("user", "ada")
				s.Set("blob", randomText(size))
			})
			require.Len(t, big, n)

			resp := serve(one, big.header(), func(_ http.ResponseWriter, s *Session) {
				assert.False(t, s.IsNew())
				user, _ := Value[string](s, "user")
				assert.Equal(t, "ada", user)
			})
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "read, and left as it is")

			var err error
			resp = serve(one, big.header(), func(w http.ResponseWriter, s *Session) {
				s.Set("n", 1)
				err = one.Save(w, s)
			})
			assert.ErrorIs(t, err, ErrTooLarge, "written in at most MaxChunks cookies")
			assert.Empty(t, resp.Header.Values("Set-Cookie"))

			resp = serve(one, big.header(), func(_ http.ResponseWriter, s *Session) { s.Delete("blob") })
			assert.Equal(t, []string{"session"}, written(resp), "a session that fits is written in one cookie")
			assert.Len(t, deleted(resp), n-1, "and the chunks it no longer needs are deleted")
		})
	}
	// A count no configuration writes is still refused.
	resp := serve(one, "session=17|abc; session.1=def", touch)
	assert.Equal(t, []string{"session", "session.1"}, deleted(resp))
}
