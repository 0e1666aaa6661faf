package rails_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/rails"
)

// FuzzOpen: no value makes Open panic, nothing opens but a session this
// format sealed, and what opens seals and opens again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := rails.Format{}.NewSealer([][]byte{[]byte(secretA)}, cookieName)
	require.NoError(f, err)
	now := time.Now()
	sealed := map[string]bool{}
	for _, s := range []string{`{"session_id":"0123456789abcdef0123456789abcdef","user_id":7}`, `{}`, `{"a":[1,2,{"b":null}]}`} {
		values, err := cookiesession.ParseObject([]byte(s))
		require.NoError(f, err)
		v, err := sealer.Seal(&cookiesession.Record{Values: values, Expires: now.Add(time.Hour)}, now)
		require.NoError(f, err)
		f.Add(v)
		r, _, err := sealer.Open(v, now)
		require.NoError(f, err)
		sealed[string(cookiesession.AppendObject(nil, r.Values))] = true
	}
	f.Add("a--b--c")
	f.Add("%ZZ")
	f.Fuzz(func(t *testing.T, value string) {
		r, _, err := sealer.Open(value, now)
		if err != nil {
			assert.ErrorIs(t, err, cookiesession.ErrInvalid)
			return
		}
		require.True(t, sealed[string(cookiesession.AppendObject(nil, r.Values))], "opened a session it never sealed: %q", value)
		again, err := sealer.Seal(&r, now)
		require.NoError(t, err)
		r2, _, err := sealer.Open(again, now)
		require.NoError(t, err)
		assert.Equal(t, r.Values, r2.Values)
		assert.Equal(t, r.ID, r2.ID)
	})
}
