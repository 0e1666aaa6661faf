package flask

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRetag: each value in the Go side's form maps to Flask's tagged JSON
// and back to itself, at any depth; a map named like a tag is escaped as
// Flask's TagDict escapes it, a tagged type keeps Flask's tag.
func TestRetag(t *testing.T) {
	for _, c := range []struct{ goForm, flask string }{
		{`{"a":1,"b":[true,null,"s"]}`, `{"a":1,"b":[true,null,"s"]}`},
		{`{" m":"<i>"}`, `{" di":{" m__":"<i>"}}`},
		{`{"\u0020m":"<i>"}`, `{" m":"<i>"}`},
		{`{" di":{" t":1}}`, `{" di":{" di__":{" di":{" t__":1}}}}`},
		{`{"k":[{" d":"x"},{"\u0020t":[{" b":"y"}]}]}`, `{"k":[{" di":{" d__":"x"}},{" t":[{" di":{" b__":"y"}}]}]}`},
		{`{" m":"a","x":1}`, `{" m":"a","x":1}`},
		{`{" M":1}`, `{" M":1}`},
		{`{"s":"{\" m\":1}","e":{}}`, `{"s":"{\" m\":1}","e":{}}`},
		{`{"\u0020di":3}`, `{" di":3}`},
	} {
		flask, err := retag([]byte(c.goForm), true)
		require.NoError(t, err, c.goForm)
		assert.Equal(t, c.flask, string(flask), "to Flask: %s", c.goForm)
		goForm, err := retag(flask, false)
		require.NoError(t, err, c.flask)
		assert.Equal(t, c.goForm, string(goForm), "from Flask: %s", c.flask)
	}
	got, err := retag([]byte(`{ " di" : { "x__" : { " t" : [ 1 , 2 ] } } }`), false)
	require.NoError(t, err)
	assert.Equal(t, `{"x":{"\u0020t":[1,2]}}`, string(got), "whitespace is dropped around what changes")

	_, err = retag([]byte(strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1)), true)
	assert.ErrorIs(t, err, errTooDeep)
}

// FuzzRetag: any JSON converts both ways without a panic, into JSON.
func FuzzRetag(f *testing.F) {
	for _, s := range []string{`{" di":{" m__":"x"}}`, `{"\u0020t":[{" b":"y"}]}`, `[{ " d" : 1 }]`, `"s"`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		for _, toFlask := range []bool{true, false} {
			out, err := retag(data, toFlask)
			if err != nil {
				require.ErrorIs(t, err, errTooDeep)
				continue
			}
			require.True(t, json.Valid(out), "%s -> %s", data, out)
		}
	})
}
