// Package formattest holds what the tests of the formats of other stacks
// (format/...) share.
package formattest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
)

// FuzzOpen is the body of each format's FuzzOpen: no value makes Open
// panic, nothing opens but a session sealer sealed (the sessions given, as
// JSON objects, each expiring at expires; zero for a format that derives
// its expiry), and what opens seals and opens again to the same session.
// junk are further seeds, shaped like the format's values.
func FuzzOpen(f *testing.F, sealer cookiesession.Sealer, expires time.Time, sessions []string, junk ...string) {
	now := time.Now()
	sealed := map[string]bool{}
	for _, s := range sessions {
		values, err := cookiesession.ParseObject([]byte(s))
		require.NoError(f, err)
		v, err := sealer.Seal(&cookiesession.Record{Values: values, Expires: expires}, now)
		require.NoError(f, err)
		f.Add(v)
		r, _, err := sealer.Open(v, now)
		require.NoError(f, err)
		sealed[string(cookiesession.AppendObject(nil, r.Values))] = true
	}
	for _, j := range junk {
		f.Add(j)
	}
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

// WeakSecretRefused asserts that New refuses format with a good secret
// and weak after it: with ErrWeakSecret, an error that says
// "cookiesession:" once, and names the weak one by its place, as what,
// the format's own word for a secret ("Flask SECRET_KEY 1"), so that an
// operator knows which line of a secrets file to fix.
func WeakSecretRefused(t *testing.T, format cookiesession.Format, good, weak, what string) {
	t.Helper()
	_, err := cookiesession.New(cookiesession.Options{Format: format, Secrets: [][]byte{[]byte(good), []byte(weak)}})
	require.ErrorIs(t, err, cookiesession.ErrWeakSecret)
	assert.Equal(t, 1, strings.Count(err.Error(), "cookiesession:"), err.Error())
	assert.Contains(t, err.Error(), what+" 1", "names the second secret")
}
