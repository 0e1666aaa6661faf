package record

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecords: each kind of entry comes back from its record as it went
// in; a record cut anywhere asks for more rather than failing; what is
// not a record is an error.
func TestRecords(t *testing.T) {
	until := time.UnixMilli(time.Now().Add(400 * Day).UnixMilli())
	before := time.UnixMilli(time.Now().UnixMilli())
	entries := []cookiesession.Revocation{
		cookiesession.SessionRevocation("Jm9vYmFyYmF6cXV4cXV1eA", until),
		cookiesession.SubjectRevocation("ada", before, until),
		cookiesession.SubjectRevocation("line\nbreak, \x00 and ✓", before, until),
		cookiesession.SubjectRevocation(strings.Repeat("s", MaxName), before, until),
		cookiesession.SubjectRevocation("é", before, until),
		cookiesession.AllRevocation(before, until),
	}
	var all []byte
	for _, r := range entries {
		record := Append(nil, r)
		for cut := range len(record) {
			_, n, err := Next(string(record[:cut]))
			require.NoError(t, err, "cut at %d", cut)
			require.Zero(t, n, "cut at %d", cut)
		}
		got, n, err := Next(string(record) + "more")
		require.NoError(t, err)
		assert.Equal(t, len(record), n)
		assert.Equal(t, r, got)
		all = append(all, record...)
	}
	rest := string(all) // the records one after another, as in a bucket
	for _, r := range entries {
		got, n, err := Next(rest)
		require.NoError(t, err)
		require.NotZero(t, n)
		assert.Equal(t, r, got)
		rest = rest[n:]
	}
	assert.Empty(t, rest)
	assert.Len(t, Append(nil, entries[0]), SessionSize, "a session ID of 22 characters")
	assert.LessOrEqual(t, len(Append(nil, entries[3])), MaxSize)

	s, u := string(rune(KindSession)), string(rune(KindSubject))
	zeros := strings.Repeat("\x00", 16)
	for _, bad := range []string{"x", "\x00", "a" + zeros, "all sessions were refreshed", // not a kind
		s + zeros[:8] + "\x00", // an empty name
		u + zeros + string(binary.AppendUvarint(nil, MaxName+1)), // too long
		u + zeros + "\x81\x00x",                                  // a length not in its shortest form
		s + zeros[:8] + "\xff\xff\xff"} {                         // a length of more than three bytes
		_, _, err := Next(bad)
		assert.ErrorIs(t, err, ErrCorrupt, "%q", bad)
	}
	now := time.Now()
	assert.ErrorContains(t, Check(cookiesession.SessionRevocation(strings.Repeat("i", MaxName+1), until), now, false), "longer than")
	assert.ErrorContains(t, Check(cookiesession.SessionRevocation("s", now.Add(402*Day)), now, false), "400 days")
	assert.ErrorContains(t, Check(cookiesession.SubjectRevocation("ada", until, before), now, false), "Before is after")
	for _, read := range []bool{false, true} {
		for _, r := range entries {
			assert.NoError(t, Check(r, now, read), "%+v", r)
		}
		// Before bounded ahead of now, both when writing and when reading.
		assert.ErrorIs(t, Check(cookiesession.AllRevocation(now.Add(MaxAhead+time.Second), now.Add(300*Day)), now, read), ErrOutOfBounds)
		assert.ErrorIs(t, Check(cookiesession.SubjectRevocation("ada", now.Add(MaxAhead+time.Second), now.Add(300*Day)), now, read), ErrOutOfBounds)
		assert.NoError(t, Check(cookiesession.AllRevocation(now.Add(MaxAhead), now.Add(400*Day)), now, read), "within the allowed skew")
	}
}

// FuzzRecords: no input makes Next panic or read past its end, and
// a record it reads is written back the same.
func FuzzRecords(f *testing.F) {
	until := time.UnixMilli(1_900_000_000_000)
	f.Add(string(Append(nil, cookiesession.SessionRevocation("Jm9vYmFyYmF6cXV4cXV1eA", until))))
	f.Add(string(Append(nil, cookiesession.SubjectRevocation("ada", until.Add(-Day), until))))
	f.Add(string(Append(nil, cookiesession.AllRevocation(until.Add(-Day), until))))
	f.Fuzz(func(t *testing.T, s string) {
		r, n, err := Next(s)
		if err != nil || n == 0 {
			return
		}
		require.LessOrEqual(t, n, len(s))
		if r.Before.UnixMilli() >= 0 {
			assert.Equal(t, s[:n], string(Append(nil, r)))
		}
	})
}

// TestKeys: the names are those every replica, of any version, reads and
// writes; a change would split one list in two.
func TestKeys(t *testing.T) {
	k := KeysOf("")
	assert.Equal(t, Keys{
		Tag:       "{cookiesession:revocations:}",
		Index:     "{cookiesession:revocations:}days",
		Channel:   "{cookiesession:revocations:}records",
		Confirmed: "{cookiesession:revocations:}confirmed",
	}, k)
	assert.Equal(t, "{cookiesession:revocations:}day:86400000", k.Day(86400000))
	assert.Equal(t, "{shop:}day:0", KeysOf("shop:").Day(0))
	assert.Equal(t, int64(2*86400000), DayEnd(time.UnixMilli(86400000)), "a day's end is exclusive")
}
