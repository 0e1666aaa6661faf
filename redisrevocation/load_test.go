package redisrevocation

import (
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests that need a redis-server, which run with each client library,
// are in the module internal/integration, so that this module requires
// neither client. These need no Redis.

// TestCheckVersion: a server older than Redis 7.0 is refused by name;
// Redis 7, Valkey (which reports the Redis version it matches) and a
// server that does not say are let through.
func TestCheckVersion(t *testing.T) {
	assert.ErrorContains(t, checkVersion("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"), "the server is 6.2.14")
	for _, info := range []string{"# Server\r\nredis_version:7.0.15\r\n", "redis_version:7.2.4\r\nvalkey_version:8.0.1\r\n", "redis_version:8.2.0", ""} {
		assert.NoError(t, checkVersion(info), "%q", info)
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// shortRecords is n bytes of session records with names of one byte, the
// shortest records there are: the most entries per byte.
func shortRecords(n int, until time.Time) string {
	var b []byte
	for i := 0; len(b)+record.MinSize <= n; i++ {
		b = record.Append(b, cookiesession.SessionRevocation(string(rune('!'+i%90)), until))
	}
	return string(b)
}

// TestMessageMemory: the largest message the list publishes, of the
// shortest records, is applied with at most about twice its size
// allocated, beside the entries the local table keeps. (A longer one is
// refused unread: TestOversizedMessage in internal/integration.)
func TestMessageMemory(t *testing.T) {
	l := &List{local: cookiesession.NewMemoryRevocations()}
	l.local.Grow(1 << 16) // the table's own growth is not the message's
	records := shortRecords(record.MaxMessageRecords, time.Now().Add(time.Hour))
	var used int
	bytes := allocated(func() { used, _, _, _ = l.apply(records) })
	t.Logf("a message of %d bytes of records: %d bytes allocated to apply it (%.2fx)", len(records), bytes, float64(bytes)/float64(len(records)))
	assert.Equal(t, len(records), used)
	assert.LessOrEqual(t, bytes, uint64(2*len(records)))
}

// TestApplyKeepsTheLaterUntil: of two records of one session, as a retry
// or a later RevokeMany appends them to a day, the later Until is kept,
// whichever comes first.
func TestApplyKeepsTheLaterUntil(t *testing.T) {
	until := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	early, late := cookiesession.SessionRevocation("s", until), cookiesession.SessionRevocation("s", until.Add(time.Second))
	for name, records := range map[string]string{
		"later last":  string(record.Append(record.Append(nil, early), late)),
		"later first": string(record.Append(record.Append(nil, late), early)),
	} {
		l := &List{local: cookiesession.NewMemoryRevocations()}
		used, refused, _, err := l.apply(records)
		require.NoError(t, err, name)
		assert.Equal(t, len(records), used, name)
		assert.Zero(t, refused, name)
		assert.Equal(t, 1, l.Len(), name)
		assert.True(t, l.local.Covers(late), name)
	}
}

// BenchmarkApply reports what applying the largest message the list
// publishes allocates, per byte of the message.
func BenchmarkApply(b *testing.B) {
	records := shortRecords(record.MaxMessageRecords, time.Now().Add(time.Hour))
	l := &List{local: cookiesession.NewMemoryRevocations()}
	l.local.Grow(1 << 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(records)))
	for b.Loop() {
		_, _, _, _ = l.apply(records)
	}
}

// TestRefusalsSummed: of a burst of refusals, the first is logged at
// once and the others summed up once the period is over, also when
// nothing follows the burst; then the next is logged at once again.
func TestRefusalsSummed(t *testing.T) {
	var logs redistest.Logs
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	f := refusals{every: 300 * time.Millisecond}
	for i := range 5 {
		f.note(logger, "redisrevocation: ignored a message", "n", i)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "ignored a message"), "the first at once")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "n=4 more_refused=4") },
		2*time.Second, 10*time.Millisecond, "the other four summed up after the period, with the latest's attributes")
	assert.Equal(t, 2, strings.Count(logs.String(), "level=ERROR"))
	time.Sleep(350 * time.Millisecond)
	f.note(logger, "redisrevocation: ignored a message", "n", 5)
	assert.Contains(t, logs.String(), "n=5\n", "a quiet period later, at once")
}
