package rails_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/format/rails"
)

// FuzzOpen: no value makes Open panic, and whatever opens is a JSON
// object that seals and opens again unchanged.
func FuzzOpen(f *testing.F) {
	codec, err := rails.New([][]byte{[]byte(secretA)})
	require.NoError(f, err)
	now := time.Now()
	for _, s := range []string{`{"session_id":"0123456789abcdef0123456789abcdef","user_id":7}`, `{}`, `{"a":[1,2,{"b":null}]}`} {
		v, err := codec.Seal("_app_session", []byte(s), now.Add(time.Hour))
		require.NoError(f, err)
		f.Add(v)
	}
	f.Add("a--b--c")
	f.Add("%ZZ")
	f.Fuzz(func(t *testing.T, value string) {
		s, err := codec.Open("_app_session", value, now)
		if err != nil {
			return
		}
		require.True(t, json.Valid(s.JSON))
		again, err := codec.Seal("_app_session", s.JSON, s.Expires)
		require.NoError(t, err)
		s2, err := codec.Open("_app_session", again, now)
		require.NoError(t, err)
		assert.Equal(t, s.JSON, s2.JSON)
	})
}
