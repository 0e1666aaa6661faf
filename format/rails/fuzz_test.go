package rails_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/format/rails"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// FuzzOpen: no value makes Open panic, nothing opens but a session this
// format sealed, and what opens seals and opens again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := rails.Format{}.NewSealer([][]byte{[]byte(secretA)}, cookieName)
	require.NoError(f, err)
	formattest.FuzzOpen(f, sealer, time.Now().Add(time.Hour),
		[]string{`{"session_id":"0123456789abcdef0123456789abcdef","user_id":7}`, `{}`, `{"a":[1,2,{"b":null}]}`},
		"a--b--c", "%ZZ")
}
