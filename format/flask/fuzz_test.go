package flask_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/flask"
)

// FuzzOpen: no value makes Open panic, and whatever opens seals and opens
// again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := flask.Format{}.NewSealer([][]byte{[]byte(keyNew)}, cookieName)
	require.NoError(f, err)
	now := time.Now()
	for _, s := range []string{`{"_user_id":"42","t":{" t":[1,{" b":"AP8="}]}}`, `{}`, `{"notes":"compress me compress me compress me compress me"}`} {
		values, err := cookiesession.ParseObject([]byte(s))
		require.NoError(f, err)
		v, err := sealer.Seal(&cookiesession.Record{Values: values}, now)
		require.NoError(f, err)
		f.Add(v)
	}
	f.Add("a.b.c")
	f.Add(".eJw.AA.x")
	f.Fuzz(func(t *testing.T, value string) {
		r, _, err := sealer.Open(value, now)
		if err != nil {
			assert.ErrorIs(t, err, cookiesession.ErrInvalid)
			return
		}
		again, err := sealer.Seal(&r, now)
		require.NoError(t, err)
		r2, _, err := sealer.Open(again, now)
		require.NoError(t, err)
		assert.Equal(t, r.Values, r2.Values)
	})
}
