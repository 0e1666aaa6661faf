package cookiesession

import (
	"cmp"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeJSON(t *testing.T) {
	persist := false
	e := envelope{
		ID: "abc", Created: 1, Expires: 2, Seen: 3, Persist: &persist,
		Flashes: []string{"saved", "quote \" and \\ and \u00e9"},
	}
	for _, kv := range []struct {
		key string
		val any
	}{
		{"plain", 1},
		{"unicode ключ \u2028", "значение"},
		{"quote\"key", map[string]any{"nested": []any{1, "}]", map[string]any{"x": nil}}, "s": "a,b:c"}},
		{"float", 1.5e300},
		{"bool", true},
		{"empty", map[string]any{}},
		{"null", nil},
	} {
		raw, err := json.Marshal(kv.val)
		require.NoError(t, err)
		e.Values = append(e.Values, field{kv.key, raw})
	}
	data := e.appendJSON(nil)
	require.True(t, json.Valid(data), string(data))

	// encoding/json agrees with what we wrote.
	var std struct {
		I string                     `json:"i"`
		C int64                      `json:"c"`
		V map[string]json.RawMessage `json:"v"`
		F []string                   `json:"f"`
	}
	require.NoError(t, json.Unmarshal(data, &std))
	assert.Equal(t, "abc", std.I)
	assert.Len(t, std.V, len(e.Values))
	assert.Equal(t, e.Flashes, std.F)

	got, err := parseEnvelope(data)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	// White space and unknown fields, as another encoder might write.
	got, err = parseEnvelope([]byte(" {\"x\": [1, {\"y\": \"}\"}], \"i\" : \"id\",\n\"c\":5,\"e\":6,\"v\":{ \"k\" : [ 1 , 2 ] } } "))
	require.NoError(t, err)
	assert.Equal(t, "id", got.ID)
	assert.Equal(t, "[ 1 , 2 ]", string(got.Values[0].raw))
}

func TestEnvelopeParseErrors(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{`, `{"i"`, `{"i":}`, `{"i":"x"`, `{"i":"x",}`, `{"i":"unterminated}`,
		`{"c":"notanumber"}`, `{"v":{"k":[1,2}`, `{"v":{"k"}}`, `{"i":"x"} trailing`,
		`{"v":[]}`, `{"f":{"a":1}}`, `{"i":"bad \u escape"}`,
	} {
		_, err := parseEnvelope([]byte(in))
		assert.ErrorIs(t, err, ErrInvalid, "%q", in)
	}
}

func TestSetCookieMatchesNetHTTP(t *testing.T) {
	for _, opts := range []Options{
		{},
		{Name: "__Host-s", Partitioned: true, SameSite: http.SameSiteNoneMode},
		{Path: "/app", Domain: "example.com", Insecure: true, ScriptAccess: true, SameSite: http.SameSiteStrictMode},
		{SameSite: http.SameSiteDefaultMode},
	} {
		m, _ := newTestManager(t, opts)
		for _, maxAge := range []int{-1, 0, 1, 86400} {
			c := http.Cookie{
				Name: m.name + ".1", Value: "v~al|ue=", MaxAge: maxAge,
				Path: cmp.Or(opts.Path, "/"), Domain: opts.Domain, HttpOnly: !opts.ScriptAccess, Secure: !opts.Insecure,
				SameSite: opts.SameSite, Partitioned: opts.Partitioned,
			}
			if c.SameSite == 0 {
				c.SameSite = http.SameSiteLaxMode
			}
			if maxAge < 0 {
				c.Value = ""
			}
			want := c.String()
			if maxAge < 0 {
				// net/http only writes Expires when it is set.
				c.Expires = time.Unix(1, 0)
				want = c.String()
			}
			assert.Equal(t, want, m.setCookie(c.Name, c.Value, maxAge))
		}
	}
}
