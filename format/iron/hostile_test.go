package iron_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/iron"
	"github.com/cookiesession/cookiesession/internal/formattest"
)

// forgedSeal is the costliest value to refuse: the largest that four
// chunks hold, shaped as a seal of a configured password id, so that the
// reader derives a key and computes the MAC over all of it.
func forgedSeal(id string) string {
	salt := strings.Repeat("ab", 32)
	ct := strings.Repeat("A", 4*3900-300)
	return "Fe26.2*" + id + "*" + salt + "*AAAAAAAAAAAAAAAAAAAAAA*" + ct + "*" + strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10) + "*" + salt + "*" + strings.Repeat("A", 43) + "~2"
}

func hostileManager(tb testing.TB) *cookiesession.Manager {
	var secrets [][]byte
	for id := 4; id >= 1; id-- {
		secrets = append(secrets, []byte(fmt.Sprintf("%d:password-%d-0123456789abcdefghijklmnopq", id, id)))
	}
	m, err := cookiesession.New(cookiesession.Options{Format: iron.Format{}, Name: "s", Secrets: secrets, MaxChunks: 4})
	require.NoError(tb, err)
	return m
}

// BenchmarkHostile measures a forged 4-chunk seal (15 KiB) against four
// passwords: the most work a request can make this format do. Compare
// with the package's own formats in SECURITY.md ("a forged 16-chunk
// session").
func BenchmarkHostile(b *testing.B) {
	m := hostileManager(b)
	header := formattest.Chunked("s", forgedSeal("1"))
	formattest.HostileLoad(b, m, header)
}

// FuzzOpen: nothing opens but a session this format sealed, and no
// value panics. The seeds are sealed afresh in each fuzzing process, with
// random salts, so what is compared is the session each holds.
func FuzzOpen(f *testing.F) {
	sealer, err := iron.Format{}.NewSealer([][]byte{[]byte("2:" + pwNew), []byte("1:" + pwOld)}, "s")
	require.NoError(f, err)
	sealed := map[string]bool{}
	for _, v := range []string{`{}`, `{"user":{"id":7}}`, `{"a":"é\u0000"}`} {
		values, err := cookiesession.ParseObject([]byte(v))
		require.NoError(f, err)
		for _, exp := range []time.Time{{}, time.Now().Add(time.Hour)} {
			seal, err := sealer.Seal(&cookiesession.Record{Values: values, Expires: exp}, time.Now())
			require.NoError(f, err)
			sealed[string(cookiesession.AppendObject(nil, values))] = true
			f.Add(seal)
			f.Add(strings.TrimSuffix(seal, "~2"))
		}
	}
	f.Add(forgedSeal("1"))
	f.Add("Fe26.2********~2")
	f.Fuzz(func(t *testing.T, value string) {
		formattest.OpensOnlySealed(t, sealer, sealed, value, time.Now())
	})
}

// TestHostileCost holds the forged seal, alone and with a second value of
// its last chunk (two ways to join), to the bounds SECURITY.md states for
// every request: at most 100 allocations and 512 KiB.
func TestHostileCost(t *testing.T) {
	m := hostileManager(t)
	header := formattest.Chunked("s", forgedSeal("1"))
	for name, h := range map[string]string{
		"forged seal":                     header,
		"forged seal, two last chunks":    header + "; s.3=" + strings.Repeat("B", 3000),
		"forged seal of an unknown id":    formattest.Chunked("s", forgedSeal("9")),
		"forged seal, no suffix, 4 parts": formattest.Chunked("s", strings.Replace(forgedSeal("1"), "*", ".", 4)),
	} {
		t.Run(name, func(t *testing.T) { formattest.Bounded(t, m, h) })
	}
}

// TestTossedChunkZero: a lone app_session.0 beside a valid app_session
// (junk a sibling subdomain set for the parent domain) neither logs the
// user out nor costs the session, whatever MaxChunks is; the junk is
// deleted.
func TestTossedChunkZero(t *testing.T) {
	for _, maxChunks := range []int{1, 4} {
		m := newManager(t, cookiesession.Options{MaxChunks: maxChunks}, pwOne)
		header := formattest.CookiesOf(formattest.Save(t, m, "", func(s *cookiesession.Session) { s.Set("user", "victim") }))
		lines := formattest.Save(t, m, header+"; app_session.0=junk", func(s *cookiesession.Session) {
			assert.False(t, s.IsNew(), "MaxChunks %d", maxChunks)
			user, _ := cookiesession.Value[string](s, "user")
			assert.Equal(t, "victim", user)
		})
		require.Len(t, lines, 1, "MaxChunks %d: only the junk is deleted", maxChunks)
		assert.True(t, strings.HasPrefix(lines[0], "app_session.0=;"), lines[0])
	}
}
