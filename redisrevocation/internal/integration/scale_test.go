package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logouts returns n session revocations as RevokeSession makes them: a
// random ID of 22 characters, kept 400 days from its logout, the logouts
// spread evenly over the year before now (spread) or all now (an
// incident).
func logouts(n int, spread bool) []cookiesession.Revocation {
	now := time.Now()
	rs := make([]cookiesession.Revocation, n)
	id := make([]byte, 16)
	for i := range rs {
		_, _ = rand.Read(id)
		at := now
		if spread {
			at = now.Add(-time.Duration(float64(365*day) * float64(n-i) / float64(n)))
		}
		rs[i] = cookiesession.SessionRevocation(base64.RawURLEncoding.EncodeToString(id), at.Add(400*day))
	}
	return rs
}

// usedMemory is Redis's used_memory.
func usedMemory(t testing.TB, c rueidis.Client) int64 {
	t.Helper()
	s, err := c.Do(context.Background(), c.B().Info().Section("memory").Build()).ToString()
	require.NoError(t, err)
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// commandCalls is how many times Redis ran each command since the last
// CONFIG RESETSTAT, from INFO commandstats.
func commandCalls(t testing.TB, c rueidis.Client) map[string]int {
	t.Helper()
	s, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	require.NoError(t, err)
	calls := map[string]int{}
	for _, line := range strings.Split(s, "\r\n") {
		name, stats, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if ok && line != name {
			n, _ := strconv.Atoi(stats[:strings.IndexByte(stats, ',')])
			calls[name] = n
		}
	}
	return calls
}

// fillUnrelated writes n keys that are not the list's, as an application
// sharing the Redis would.
func fillUnrelated(t testing.TB, c rueidis.Client, n int) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		cmd := c.B().Mset().KeyValue()
		for i := start; i < min(start+1000, n); i++ {
			cmd = cmd.KeyValue(fmt.Sprintf("app:cache:%d", i), "some cached value")
		}
		require.NoError(t, c.Do(context.Background(), cmd.Build()).Error())
	}
}

// TestLoadReadsOnlyTheList: a replica starting beside many unrelated keys
// reads its index and buckets, never the keyspace: no SCAN or KEYS.
func TestLoadReadsOnlyTheList(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		fillUnrelated(t, c, 20_000)
		ctx := context.Background()
		now := time.Now()
		require.NoError(t, srv.list(t, redisrevocation.Options{}).RevokeMany(ctx, []cookiesession.Revocation{
			cookiesession.SessionRevocation("today", now.Add(time.Hour)),
			cookiesession.SessionRevocation("next-year", now.Add(365*day)),
			cookiesession.SubjectRevocation("ada", now, now.Add(400*day)),
		}))
		require.NoError(t, c.Do(ctx, c.B().ConfigResetstat().Build()).Error())
		late := srv.list(t, redisrevocation.Options{})
		calls := commandCalls(t, c)
		assert.Equal(t, 1, calls["zrange"], "one read of the index")
		assert.Equal(t, 3, calls["getrange"], "one page of each of the three days")
		assert.Zero(t, calls["scan"]+calls["keys"], "no walk of the keyspace")
		assert.Equal(t, 3, late.Len())
		assert.True(t, late.Revoked(ctx, info("next-year", "", now)))
	})
}

// TestRedisMemoryPerEntry: Redis holds a revoked session in at most 64
// bytes, whether the entries were made over a year or all at once.
func TestRedisMemoryPerEntry(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		const n = 100_000
		for _, spread := range []bool{true, false} {
			t.Run(fmt.Sprintf("spread=%v", spread), func(t *testing.T) {
				srv := k.startRedis(t)
				c := srv.client(t)
				l := srv.list(t, redisrevocation.Options{})
				before := usedMemory(t, c)
				require.NoError(t, l.RevokeMany(context.Background(), logouts(n, spread)))
				perEntry := float64(usedMemory(t, c)-before) / n
				t.Logf("%d entries: %.1f bytes each in Redis", n, perEntry)
				assert.LessOrEqual(t, perEntry, 64.0)
			})
		}
	})
}

// BenchmarkColdStart measures New until loaded: a replica starting on a
// list of a million revoked sessions (made over a year, or all in one
// incident), and one whose list is empty, beside a million unrelated keys.
// It reports the bytes each entry takes in Redis and in the replica's
// heap. Needs redis-server, as the tests do; writing the entries takes a
// few seconds before the timing starts.
func BenchmarkColdStart(b *testing.B) {
	eachClient(b, func(b *testing.B, k clientKind) {
		const n = 1_000_000
		for _, shape := range []string{"1M-spread", "1M-incident", "empty-beside-1M-keys"} {
			b.Run(shape, func(b *testing.B) {
				srv := k.startRedis(b)
				c := srv.client(b)
				ctx := context.Background()
				before := usedMemory(b, c)
				entries := 0
				if shape == "empty-beside-1M-keys" {
					fillUnrelated(b, c, n)
				} else {
					entries = n
					writer := srv.list(b, redisrevocation.Options{})
					rs := logouts(n, shape == "1M-spread")
					start := time.Now()
					require.NoError(b, writer.RevokeMany(ctx, rs))
					b.Logf("RevokeMany of %d: %v", n, time.Since(start).Round(time.Millisecond))
				}
				redisPerEntry := float64(usedMemory(b, c)-before) / n
				var l *redisrevocation.List
				d := srv.driver(b, "", "")
				for b.Loop() {
					if l != nil {
						l.Close()
					}
					var err error
					l, err = redisrevocation.New(ctx, d, redisrevocation.Options{})
					require.NoError(b, err)
				}
				b.StopTimer()
				require.Equal(b, entries, l.Len())
				if entries > 0 {
					// The heap of one more replica's list, loaded on its own.
					l.Close()
					l = nil
					var heap runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&heap)
					before := heap.HeapAlloc
					fresh, err := redisrevocation.New(ctx, d, redisrevocation.Options{})
					require.NoError(b, err)
					runtime.GC()
					runtime.ReadMemStats(&heap)
					b.ReportMetric(redisPerEntry, "redis-B/entry")
					b.ReportMetric(float64(heap.HeapAlloc-before)/float64(fresh.Len()), "heap-B/entry")
					fresh.Close()
				}
				if l != nil {
					l.Close()
				}
			})
		}
	})
}

// TestForeignDataIsIgnored: what this package did not write, in the list's
// index or on its channel, is logged and skipped; the rest loads, and a
// foreign message puts nothing in force.
func TestForeignDataIsIgnored(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx, now := context.Background(), time.Now()
		var logs redistest.Logs
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		a := srv.list(t, redisrevocation.Options{Logger: logger})
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation("kept", now.Add(time.Hour))))
		wrongType := defaultKeys.Tag + "day:1"
		require.NoError(t, c.Do(ctx, c.B().Rpush().Key(wrongType).Element("x").Build()).Error())
		for _, member := range []string{wrongType, "elsewhere"} {
			require.NoError(t, c.Do(ctx, c.B().Zadd().Key(defaultKeys.Index).ScoreMember().ScoreMember(float64(now.Add(time.Hour).UnixMilli()), member).Build()).Error())
		}

		b := srv.list(t, redisrevocation.Options{Logger: logger})
		assert.True(t, b.Revoked(ctx, info("kept", "", now)), "the list's own day loaded")
		assert.Contains(t, logs.String(), "not one of its days")
		assert.Contains(t, logs.String(), "not a string")

		for _, message := range []string{"all sessions were refreshed by the deploy bot", record.Magic + "all sessions", record.Magic + "\x03"} {
			require.NoError(t, c.Do(ctx, c.B().Publish().Channel(defaultKeys.Channel).Message(message).Build()).Error())
		}
		// Logged at once, then at most once a minute with a count: a flood
		// of junk does not flood the log.
		eventually(t, 2*time.Second, func() bool { return strings.Count(logs.String(), "ignored a message") == 2 }, "both lists log the first")
		time.Sleep(100 * time.Millisecond)
		assert.Equal(t, 2, strings.Count(logs.String(), "ignored a message"), "and not the two after it")
		assert.False(t, a.Revoked(ctx, info("fresh", "", now)), "nothing put in force")
		assert.False(t, b.Revoked(ctx, info("fresh", "", now)))
	})
}
