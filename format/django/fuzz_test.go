package django_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/django"
)

// FuzzOpen: no value makes Open panic, nothing opens but a session this
// format sealed, and what opens seals and opens again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := django.Format{}.NewSealer([][]byte{[]byte(keyNew)}, cookieName)
	require.NoError(f, err)
	now := time.Now()
	sealed := map[string]bool{}
	for _, s := range []string{`{"_auth_user_id":"42","cart":["Zoë"]}`, `{}`, `{"notes":"compress me compress me compress me compress me"}`} {
		values, err := cookiesession.ParseObject([]byte(s))
		require.NoError(f, err)
		v, err := sealer.Seal(&cookiesession.Record{Values: values}, now)
		require.NoError(f, err)
		f.Add(v)
		r, _, err := sealer.Open(v, now)
		require.NoError(f, err)
		sealed[string(cookiesession.AppendObject(nil, r.Values))] = true
	}
	f.Add("a:b:c")
	f.Add(".eJw:0:x")
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
	})
}
