package flask

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzOpen: no value makes open panic, and whatever opens seals and
// opens again to the same JSON.
func FuzzOpen(f *testing.F) {
	c := newTestCodec(f, keyNew)
	now := time.Now()
	for _, s := range []string{`{"_user_id":"42","t":{" t":[1,{" b":"AP8="}]}}`, `{}`, `{"notes":"compress me compress me compress me compress me"}`} {
		v, err := c.seal([]byte(s), now)
		require.NoError(f, err)
		f.Add(v)
	}
	f.Add("a.b.c")
	f.Add(".eJw.AA.x")
	f.Fuzz(func(t *testing.T, value string) {
		o, err := c.open(value, now)
		if err != nil || o.json == nil {
			return
		}
		if !json.Valid(o.json) {
			return // verified but not JSON: the format adapter refuses it
		}
		again, err := c.seal(o.json, o.signed)
		require.NoError(t, err)
		o2, err := c.open(again, now)
		require.NoError(t, err)
		assert.JSONEq(t, string(o.json), string(o2.json))
	})
}
