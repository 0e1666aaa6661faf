package cookiesession

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvelopeJSON(t *testing.T) {
	persist := false
	e := envelope{
		ID: "abc", Created: 1, Milli: 7, Expires: 2, Seen: 3, Persist: &persist, Subject: "user é",
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
		e.Values = append(e.Values, field{kv.key, string(raw)})
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

// TestEnvelopeSizeHint: the JSON of an envelope without escapes fits the
// buffer sized from the hint, with little to spare, in every shape.
func TestEnvelopeSizeHint(t *testing.T) {
	persist := true
	now := time.Now()
	for name, e := range map[string]envelope{
		"new":      {ID: "NXtmVic8WUau_GDYeTHqFQ", Created: now.Unix(), Milli: 999, Expires: now.Add(time.Hour).Unix()},
		"typical":  *typicalEnvelope(now),
		"complete": {ID: "NXtmVic8WUau_GDYeTHqFQ", Created: now.Unix(), Expires: now.Unix(), Seen: now.Unix(), Persist: &persist, Subject: "user-1", Values: typicalEnvelope(now).Values, Flashes: []string{"saved", "sent"}},
	} {
		n := len(e.appendJSON(nil))
		assert.GreaterOrEqual(t, e.sizeHint(), n, name)
		assert.LessOrEqual(t, e.sizeHint(), n+32, name)
	}
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

// TestEnvelopeParserIsStrict: what the payload parser accepts is what
// encoding/json accepts, and it never resolves a duplicate key.
func TestEnvelopeParserIsStrict(t *testing.T) {
	valid := func(v string) string { return `{"i":"x","c":1,"e":2,"v":{"k":` + v + `}}` }
	for _, in := range []string{
		valid(`tru`), valid(`nul`), valid(`[}`), valid(`{]`), valid(`+1`), valid(`01`), valid(`1.`),
		valid(`.5`), valid(`1e`), valid(`-`), valid("\"raw\tcontrol\""),
		valid(`"\x"`), valid(`"\u12"`), valid(`[1,]`), valid(`[,1]`), valid(`{"a" 1}`), valid(`{"a":1,}`),
		valid(`{"":{""}}`), valid(`[1 2]`), valid(`{"a":1 "b":2}`),
		`{"i":"x","c":1,"e":2,"zz":[garbage],"v":{}}`,
		`{"i":"x","c":1,"e":2,"zz":{"":{""}}}`,
		`{"i":"x","c":1,"e":2,"p":1}`,
		`{"i":"x","c":1,"e":2,"p":null}`,
		`{"i":"x","c":1.0,"e":2}`,
		`{"i":"x","c":1,"e":2,"v":{"k":1,"k":2}}`,
		`{"i":"x","c":1,"e":2,"i":"y"}`,
		`{"i":"x","c":1,"e":2,"\u0069":"y"}`,
		`{"i":"x","c":1,"m":"001","e":2,"m":"002"}`,
		`{"i":"x","c":1,"e":2,"u":"a","f":[],"u":"b"}`,
		`{"i":"x","c":1,"e":2,"f":null}`,
		"{\"i\":\"x\xff\",\"c\":1,\"e\":2}",
	} {
		_, ok := oracleEnvelope([]byte(in))
		require.False(t, ok, "the oracle accepts %q", in)
		_, err := parseEnvelope([]byte(in))
		assert.ErrorIs(t, err, ErrInvalid, "%q", in)
	}
	// What JSON allows, the parser allows.
	for _, v := range []string{`-0`, `0.5e-3`, `1E+2`, `"\u00e9\/\b"`, `[[[]]]`, `{"a":{"b":[null,true,false]}}`, ` [ 1 , "x" ] `} {
		in := valid(v)
		want, ok := oracleEnvelope([]byte(in))
		require.True(t, ok, in)
		got, err := parseEnvelope([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	// The times are read as int64 exactly where encoding/json reads them.
	for _, c := range []string{`9223372036854775807`, `-9223372036854775808`, `-0`, `0`, `1764000000`} {
		in := `{"i":"x","c":` + c + `,"e":2}`
		want, ok := oracleEnvelope([]byte(in))
		require.True(t, ok, in)
		got, err := parseEnvelope([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want.Created, got.Created, in)
	}
	for _, c := range []string{`9223372036854775808`, `-9223372036854775809`, `99999999999999999999`, `1e3`, `1.5`, `"1"`, `true`} {
		in := `{"i":"x","c":` + c + `,"e":2}`
		_, ok := oracleEnvelope([]byte(in))
		require.False(t, ok, "the oracle accepts %q", in)
		_, err := parseEnvelope([]byte(in))
		assert.ErrorIs(t, err, ErrInvalid, "%q", in)
	}

	_, err := parseExpress([]byte(`{"user":1,"user":2}`))
	assert.ErrorIs(t, err, ErrInvalid, "Express objects too")

	// Past 16 keys the search becomes a map: duplicates of early and of
	// late keys are refused there too.
	many := func(keys ...int) string {
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, k, i)
		}
		return `{"i":"x","c":1,"e":2,"v":{` + b.String() + `}}`
	}
	keys := make([]int, 40)
	for i := range keys {
		keys[i] = i
	}
	e, err := parseEnvelope([]byte(many(keys...)))
	require.NoError(t, err)
	assert.Len(t, e.Values, 40)
	for _, dup := range []int{2, 15, 16, 17, 39} {
		_, err := parseEnvelope([]byte(many(append(keys, dup)...)))
		assert.ErrorIs(t, err, ErrInvalid, "k%d twice among 41 keys", dup)
		_, err = parseEnvelope([]byte(many(append(keys[:dup+1:dup+1], dup)...)))
		assert.ErrorIs(t, err, ErrInvalid, "k%d twice, right after itself", dup)
	}
}

// jsonObject reads a JSON object with encoding/json, keeping its keys in
// order, duplicates included.
func jsonObject(raw []byte) ([]field, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil, false
		}
		out = append(out, field{key, string(v)})
	}
	tok, err := dec.Token()
	return out, err == nil && tok == json.Delim('}')
}

// oracleEnvelope decides with encoding/json what parseEnvelope must do
// with data: accept valid UTF-8 JSON whose known fields have their types
// (no null) and appear once, and whose "v" has each key once.
func oracleEnvelope(data []byte) (envelope, bool) {
	if !utf8.Valid(data) || !json.Valid(data) {
		return envelope{}, false
	}
	top, ok := jsonObject(data)
	if !ok {
		return envelope{}, false
	}
	var e envelope
	seen := map[string]bool{}
	for _, f := range top {
		if strings.Contains(envelopeFields, f.key) && len(f.key) == 1 {
			if seen[f.key] || string(f.raw) == "null" {
				return envelope{}, false
			}
			seen[f.key] = true
		}
		var err error
		switch f.key {
		case "i", "u":
			if f.raw[0] != '"' {
				return envelope{}, false
			}
			err = json.Unmarshal([]byte(f.raw), map[string]*string{"i": &e.ID, "u": &e.Subject}[f.key])
		case "c":
			err = json.Unmarshal([]byte(f.raw), &e.Created)
		case "m":
			var ms string
			if err = json.Unmarshal([]byte(f.raw), &ms); err == nil {
				n, convErr := strconv.Atoi(ms)
				if f.raw[0] != '"' || len(ms) != 3 || convErr != nil || strings.Trim(ms, "0123456789") != "" {
					return envelope{}, false
				}
				e.Milli = int64(n)
			}
		case "e":
			err = json.Unmarshal([]byte(f.raw), &e.Expires)
		case "s":
			err = json.Unmarshal([]byte(f.raw), &e.Seen)
		case "p":
			e.Persist = new(bool)
			err = json.Unmarshal([]byte(f.raw), e.Persist)
		case "f":
			err = json.Unmarshal([]byte(f.raw), &e.Flashes)
		case "v":
			values, ok := jsonObject([]byte(f.raw))
			keys := map[string]bool{}
			for _, v := range values {
				ok = ok && !keys[v.key]
				keys[v.key] = true
			}
			if !ok {
				return envelope{}, false
			}
			e.Values = append(make([]field, 0, 16), values...)
		}
		if err != nil {
			return envelope{}, false
		}
	}
	return e, true
}

// FuzzEnvelopeJSON: the hand-written payload parser and encoding/json
// agree on every input: both refuse it, or both read the same session.
func FuzzEnvelopeJSON(f *testing.F) {
	f.Add([]byte(`{"i":"abc","c":1,"m":"099","e":2,"s":3,"p":true,"u":"user-1","v":{"k":[1,{"x":"}"}],"n":-0.5e3},"f":["a"]}`))
	f.Add([]byte(`{"i":"a\"b\u00e9","c":1,"e":2,"v":{"":null,"\u006b":"v"},"z":[[],{}]}`))
	f.Add([]byte(`{"i":"x","c":1,"e":2,"v":{"k":tru}}`))
	f.Add([]byte(`{"i":"x","c":1,"e":2,"v":{"k":1,"k":2}}`))
	f.Add([]byte(`{"i":"x","c":1,"m":"001","e":2,"m":"002"}`))
	f.Add([]byte(`{"i":"x","c":1,"e":2,"f":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, ok := oracleEnvelope(data)
		got, err := parseEnvelope(data)
		switch {
		case ok && err != nil:
			t.Fatalf("encoding/json accepts %q, the parser refuses it: %v", data, err)
		case !ok && err == nil:
			t.Fatalf("the parser accepts %q, encoding/json refuses it", data)
		case ok && !reflect.DeepEqual(want, got):
			t.Fatalf("the readers disagree on %q:\n%#v\n%#v", data, want, got)
		}
	})
}

func TestSetCookieMatchesNetHTTP(t *testing.T) {
	for _, opts := range []Options{
		{},
		{Name: "__Host-s", Partitioned: true, SameSite: http.SameSiteNoneMode},
		{Path: "/app", Domain: "example.com", Insecure: true, ScriptAccess: true, Format: FormatSignOnly, SameSite: http.SameSiteStrictMode},
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
			if maxAge < 0 {
				assert.Equal(t, want, m.deleteCookie(c.Name))
				continue
			}
			assert.Equal(t, want, setCookie(m, c.Name, "", c.Value, appendMaxAge(nil, maxAge)))
			assert.Equal(t, want, setCookie(m, c.Name, "v~", []byte("al|ue="), appendMaxAge(nil, maxAge)), "from a prefix and bytes")
		}
	}
}

// FuzzValueShortcuts: Set's and Get's shortcuts for ints and strings give
// exactly what encoding/json gives, for any string, any int and any valid
// JSON value.
func FuzzValueShortcuts(f *testing.F) {
	for _, s := range []string{"", "plain", `a"b`, `a\b`, "<a&b>", "é", "\x00", "\xff", "\u2028", "null", "3", "-0", "3.0", "1e2", "9223372036854775808", `"x"`, `"a\u0041"`} {
		f.Add(s, int64(len(s))-3)
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		got, err := encodeValue(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "string %q", s)

		want, _ = json.Marshal(int(n))
		got, _ = encodeValue(int(n))
		require.Equal(t, string(want), string(got), "int %d", n)

		// Reads, of the string's JSON and of the string as JSON text. Values
		// are valid JSON in valid UTF-8: Set marshalled them, or the
		// envelope parser checked them.
		for _, raw := range [][]byte{want, []byte(s)} {
			if !json.Valid(raw) || !utf8.Valid(raw) {
				continue
			}
			var wantS, gotS string
			wantErr, gotErr := json.Unmarshal(raw, &wantS), decodeValue(string(raw), &gotS)
			require.Equal(t, wantErr == nil, gotErr == nil, "%s into a string", raw)
			require.Equal(t, wantS, gotS, "%s into a string", raw)
			var wantN, gotN int
			wantErr, gotErr = json.Unmarshal(raw, &wantN), decodeValue(string(raw), &gotN)
			require.Equal(t, wantErr == nil, gotErr == nil, "%s into an int", raw)
			require.Equal(t, wantN, gotN, "%s into an int", raw)
		}
	})
}
