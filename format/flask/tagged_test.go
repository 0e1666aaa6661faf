package flask_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/format/flask"
)

// TestTaggedTypes: each type writes Flask's tag and reads only its own
// tag, as the only key of the object, as Flask's untag does.
func TestTaggedTypes(t *testing.T) {
	for _, c := range []struct {
		value any
		json  string
		into  any
	}{
		{flask.Tuple[string]{"a", "b"}, `{" t":["a","b"]}`, new(flask.Tuple[string])},
		{flask.Bytes{0, 0xff}, `{" b":"AP8="}`, new(flask.Bytes)},
		{uuid, `{" u":"12345678123456781234567812345678"}`, new(flask.UUID)},
		{flask.Time{Time: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)}, `{" d":"Mon, 07 Dec 2026 17:00:00 GMT"}`, new(flask.Time)},
		{flask.Markup("<i>x</i>"), `{" m":"<i>x</i>"}`, new(flask.Markup)},
	} {
		b, err := json.Marshal(c.value)
		require.NoError(t, err)
		assert.JSONEq(t, c.json, string(b))
		require.NoError(t, json.Unmarshal(b, c.into))
		for _, bad := range []string{`"plain"`, `{" x":1}`, `{}`, c.json[:len(c.json)-1] + `,"extra":1}`, `{" T":1}`} {
			assert.Error(t, json.Unmarshal([]byte(bad), c.into), "%T from %s", c.into, bad)
		}
	}
	var u flask.UUID
	require.NoError(t, json.Unmarshal([]byte(`{" u":"12345678-1234-5678-1234-567812345678"}`), &u))
	assert.Equal(t, uuid, u)
	assert.Error(t, json.Unmarshal([]byte(`{" u":"1234"}`), &u))
	var tm flask.Time
	assert.Error(t, json.Unmarshal([]byte(`{" d":"yesterday"}`), &tm))
}
