package redisrevocation

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
	until := time.UnixMilli(time.Now().Add(400 * day).UnixMilli())
	before := time.UnixMilli(time.Now().UnixMilli())
	entries := []cookiesession.Revocation{
		cookiesession.SessionRevocation("Jm9vYmFyYmF6cXV4cXV1eA", until),
		cookiesession.SubjectRevocation("ada", before, until),
		cookiesession.SubjectRevocation("line\nbreak, \x00 and ✓", before, until),
		cookiesession.SubjectRevocation(strings.Repeat("s", maxName), before, until),
		cookiesession.SubjectRevocation("é", before, until),
		cookiesession.AllRevocation(before, until),
	}
	var all []byte
	for _, r := range entries {
		record := appendRecord(nil, r)
		for cut := range len(record) {
			_, n, err := nextRecord(string(record[:cut]))
			require.NoError(t, err, "cut at %d", cut)
			require.Zero(t, n, "cut at %d", cut)
		}
		got, n, err := nextRecord(string(record) + "more")
		require.NoError(t, err)
		assert.Equal(t, len(record), n)
		assert.Equal(t, r, got)
		all = append(all, record...)
	}
	rest := string(all) // the records one after another, as in a bucket
	for _, r := range entries {
		got, n, err := nextRecord(rest)
		require.NoError(t, err)
		require.NotZero(t, n)
		assert.Equal(t, r, got)
		rest = rest[n:]
	}
	assert.Empty(t, rest)
	assert.Len(t, appendRecord(nil, entries[0]), sessionRecord, "a session ID of 22 characters")
	assert.LessOrEqual(t, len(appendRecord(nil, entries[3])), maxRecord)

	s, u := string(rune(kindSession)), string(rune(kindSubject))
	zeros := strings.Repeat("\x00", 16)
	for _, bad := range []string{"x", "\x00", "a" + zeros, "all sessions were refreshed", // not a kind
		s + zeros[:8] + "\x00", // an empty name
		u + zeros + string(binary.AppendUvarint(nil, maxName+1)), // too long
		u + zeros + "\x81\x00x",                                  // a length not in its shortest form
		s + zeros[:8] + "\xff\xff\xff"} {                         // a length of more than three bytes
		_, _, err := nextRecord(bad)
		assert.ErrorIs(t, err, errCorrupt, "%q", bad)
	}
	now := time.Now()
	assert.ErrorContains(t, checkShareable(cookiesession.SessionRevocation(strings.Repeat("i", maxName+1), until), now, false), "longer than")
	assert.ErrorContains(t, checkShareable(cookiesession.SessionRevocation("s", now.Add(402*day)), now, false), "400 days")
	assert.ErrorContains(t, checkShareable(cookiesession.SubjectRevocation("ada", until, before), now, false), "Before is after")
	for _, read := range []bool{false, true} {
		for _, r := range entries {
			assert.NoError(t, checkShareable(r, now, read), "%+v", r)
		}
		// Before bounded ahead of now, both when writing and when reading.
		assert.ErrorIs(t, checkShareable(cookiesession.AllRevocation(now.Add(maxAhead+time.Second), now.Add(300*day)), now, read), errOutOfBounds)
		assert.ErrorIs(t, checkShareable(cookiesession.SubjectRevocation("ada", now.Add(maxAhead+time.Second), now.Add(300*day)), now, read), errOutOfBounds)
		assert.NoError(t, checkShareable(cookiesession.AllRevocation(now.Add(maxAhead), now.Add(400*day)), now, read), "within the allowed skew")
	}
}

// FuzzRecords: no input makes nextRecord panic or read past its end, and
// a record it reads is written back the same.
func FuzzRecords(f *testing.F) {
	until := time.UnixMilli(1_900_000_000_000)
	f.Add(string(appendRecord(nil, cookiesession.SessionRevocation("Jm9vYmFyYmF6cXV4cXV1eA", until))))
	f.Add(string(appendRecord(nil, cookiesession.SubjectRevocation("ada", until.Add(-day), until))))
	f.Add(string(appendRecord(nil, cookiesession.AllRevocation(until.Add(-day), until))))
	f.Fuzz(func(t *testing.T, s string) {
		r, n, err := nextRecord(s)
		if err != nil || n == 0 {
			return
		}
		require.LessOrEqual(t, n, len(s))
		if r.Before.UnixMilli() >= 0 {
			assert.Equal(t, s[:n], string(appendRecord(nil, r)))
		}
	})
}

// TestCheckVersion: a server older than Redis 7.0 is refused by name;
// Redis 7, Valkey (which reports the Redis version it matches) and a
// server that does not say are let through.
func TestCheckVersion(t *testing.T) {
	assert.ErrorContains(t, checkVersion("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"), "the server is 6.2.14")
	for _, info := range []string{"# Server\r\nredis_version:7.0.15\r\n", "redis_version:7.2.4\r\nvalkey_version:8.0.1\r\n", "redis_version:8.2.0", ""} {
		assert.NoError(t, checkVersion(info), "%q", info)
	}
}
