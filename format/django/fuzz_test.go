package django_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/format/django"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// FuzzOpen: no value makes Open panic, nothing opens but a session this
// format sealed, and what opens seals and opens again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := django.Format{}.NewSealer([][]byte{[]byte(keyNew)}, cookieName)
	require.NoError(f, err)
	formattest.FuzzOpen(f, sealer, time.Time{},
		[]string{`{"_auth_user_id":"42","cart":["Zoë"]}`, `{}`, `{"notes":"compress me compress me compress me compress me"}`},
		"a:b:c", ".eJw:0:x")
}
