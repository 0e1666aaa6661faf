package flask_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession/format/flask"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// FuzzOpen: no value makes Open panic, nothing opens but a session this
// format sealed, and what opens seals and opens again to the same session.
func FuzzOpen(f *testing.F) {
	sealer, err := flask.Format{}.NewSealer([][]byte{[]byte(keyNew)}, cookieName)
	require.NoError(f, err)
	formattest.FuzzOpen(f, sealer, time.Time{},
		[]string{`{"_user_id":"42","t":{" t":[1,{" b":"AP8="}]}}`, `{}`, `{"notes":"compress me compress me compress me compress me"}`},
		"a.b.c", ".eJw.AA.x")
}
