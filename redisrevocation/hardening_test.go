package redisrevocation

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedBytes is the size of every string the list's index names.
func storedBytes(t testing.TB, c rueidis.Client, l *List) int64 {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Zrange().Key(l.index).Min("0").Max("-1").Build()).AsStrSlice()
	require.NoError(t, err)
	var total int64
	for _, k := range keys {
		n, err := c.Do(ctx, c.B().Strlen().Key(k).Build()).AsInt64()
		require.NoError(t, err)
		total += n
	}
	return total
}

// TestReplayedLogoutsCostNothing: one client replaying one cookie to the
// logout route 10,000 times leaves one record in Redis, and makes no
// script call and no message after the first.
func TestReplayedLogoutsCostNothing(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		l, other := srv.list(t, Options{}), srv.list(t, Options{})
		m, err := cookiesession.New(cookiesession.Options{Secrets: testKeys, Revocations: l})
		require.NoError(t, err)
		s := m.LoadHeader()
		s.Set("user", "ada")
		lines, err := m.SaveHeader(s)
		require.NoError(t, err)
		cookie := strings.SplitN(lines[0], ";", 2)[0]

		logout := func() {
			require.NoError(t, m.RevokeSession(ctx, m.LoadHeader(cookie)))
		}
		startDay := time.Now().UTC().Truncate(day)
		logout()
		require.NoError(t, c.Do(ctx, c.B().ConfigResetstat().Build()).Error())
		const replays = 10_000
		for range replays {
			logout()
		}
		calls := commandCalls(t, c)
		stored := storedBytes(t, c, l)
		t.Logf("%d replays of one logout: %d bytes of records in Redis, %d script calls after the first", replays, stored, calls["eval"])
		if time.Now().UTC().Truncate(day) != startDay {
			t.Skip("the UTC day changed during the replays: a replay on the next day is a new entry")
		}
		assert.Zero(t, calls["eval"], "no write and no message for a replay")
		assert.Zero(t, calls["publish"])
		eventually(t, time.Second, func() bool { return other.local.Len() == 1 }, "the other replica has the one entry")
		assert.Less(t, stored, int64(2*sessionRecord), "one record in Redis")
	})
}

// TestDayBeyondOneString: with proto-max-bulk-len at its minimum (1 MB),
// 40,000 revocations of one day, then a flood of 40,000 more, are all
// shared, and all reach a replica started afterwards; a logout after the
// flood reaches every replica.
func TestDayBeyondOneString(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		err := c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("proto-max-bulk-len", strconv.Itoa(1<<20-1)).Build()).Error()
		require.Error(t, err, "1 MB is the smallest limit Redis allows")
		require.NoError(t, c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("proto-max-bulk-len", "1mb").Build()).Error())

		a, b := srv.list(t, Options{}), srv.list(t, Options{})
		until := time.Now().Add(10 * day).UTC().Truncate(day).Add(12 * time.Hour)
		const n = 40_000
		rs := make([]cookiesession.Revocation, n)
		flood := make([]cookiesession.Revocation, n)
		for i := range rs {
			id := fmt.Sprintf("one-day-session-%06d", i) // 22 characters: records of 32 bytes
			rs[i] = cookiesession.SessionRevocation(id, until)
			flood[i] = cookiesession.SessionRevocation(id, until.Add(time.Second)) // later, so shared again
		}
		require.NoError(t, a.RevokeMany(ctx, rs), "1.28 MB of records on one day")
		require.NoError(t, a.RevokeMany(ctx, flood), "and as much again")
		after := info("after-the-flood", "", time.Now())
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation(after.ID, until)))
		eventually(t, 2*time.Second, func() bool { return b.Revoked(ctx, after) }, "the logout after the flood on the other replica")

		keys, err := c.Do(ctx, c.B().Zrange().Key(a.index).Min("0").Max("-1").Build()).AsStrSlice()
		require.NoError(t, err)
		t.Logf("one day of %d bytes of records in %d strings", storedBytes(t, c, a), len(keys))
		assert.GreaterOrEqual(t, len(keys), 3, "the day rolled over to further strings")
		assert.Equal(t, a.dayKey(dayEnd(until)), keys[0])

		late := srv.list(t, Options{})
		assert.Equal(t, n+1, late.local.Len())
		for _, i := range []int{0, n / 3, n / 2, n - 1} {
			assert.True(t, late.Revoked(ctx, info(rs[i].SessionID, "", time.Now())), rs[i].SessionID)
			assert.True(t, late.local.Covers(flood[i]), "the flood's later Until loaded too")
		}
		assert.True(t, late.Revoked(ctx, after))
	})
}

// TestBeforeBoundedAhead: a revocation of a subject or of everyone whose
// Before is more than 5 minutes ahead would refuse sessions not created
// yet. It is refused when written, when it arrives on the channel, and
// when it is loaded, logged at ERROR once per source; the records beside
// it are kept.
func TestBeforeBoundedAhead(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx, now := context.Background(), time.Now()
		var logs syncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		a := srv.list(t, Options{Logger: logger})
		future := cookiesession.AllRevocation(now.Add(300*day), now.Add(400*day))
		fresh := info("fresh", "ada", now.Add(time.Second))

		err := a.Revoke(ctx, future)
		require.ErrorIs(t, err, errOutOfBounds)
		require.Error(t, a.Revoke(ctx, cookiesession.SubjectRevocation("ada", now.Add(time.Hour), now.Add(400*day))))
		assert.False(t, a.Revoked(ctx, fresh), "not in force")

		// On the channel, three times, beside a record that is fine.
		message := messageMagic + string(appendRecord(appendRecord(nil, future), cookiesession.SessionRevocation("beside", now.Add(time.Hour))))
		for range 3 {
			require.NoError(t, c.Do(ctx, c.B().Publish().Channel(a.channel).Message(message).Build()).Error())
		}
		eventually(t, 2*time.Second, func() bool { return a.Revoked(ctx, info("beside", "", now)) }, "the record beside it applied")
		time.Sleep(50 * time.Millisecond)
		assert.False(t, a.Revoked(ctx, fresh), "the future one refused")
		assert.Equal(t, 1, strings.Count(logs.String(), "out of bounds on the list's channel"), "logged once: %s", logs.String())
		assert.Contains(t, logs.String(), "level=ERROR")

		// In a day's string, as a foreign writer would append it.
		key := a.dayKey(dayEnd(now.Add(400 * day)))
		require.NoError(t, c.Do(ctx, c.B().Append().Key(key).Value(string(appendRecord(nil, future))).Build()).Error())
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation("same-day", now.Add(400*day))))
		late := srv.list(t, Options{Logger: logger})
		assert.False(t, late.Revoked(ctx, fresh), "not loaded")
		assert.True(t, late.Revoked(ctx, info("same-day", "", now)), "the record after it in the same string loaded")
		assert.Equal(t, 1, strings.Count(logs.String(), "out of bounds in the list"), "logged once for the string")
		assert.Contains(t, logs.String(), key)
	})
}

// TestChannelRefusalsSummed: what the channel brings that is refused is
// logged at once, then summed up once per period, also when nothing
// follows the burst.
func TestChannelRefusalsSummed(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		var logs syncBuffer
		a := srv.list(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		a.ignored.mu.Lock()
		a.ignored.every = 300 * time.Millisecond
		a.ignored.mu.Unlock()
		for range 5 {
			require.NoError(t, c.Do(context.Background(), c.B().Publish().Channel(a.channel).Message("not records").Build()).Error())
		}
		eventually(t, time.Second, func() bool { return strings.Count(logs.String(), "ignored a message") == 1 }, "the first at once")
		eventually(t, 2*time.Second, func() bool { return strings.Contains(logs.String(), "more_refused=4") }, "the other four summed up after the period")
		assert.Equal(t, 2, strings.Count(logs.String(), "level=ERROR"))
	})
}

// TestProbeNamesMissingPermissions: New runs what the list will need with
// the options given, as the list's Redis user, and refuses an ACL that
// would fail a Revoke after its record was written, naming what is
// missing. The common least-privilege ACL, +@all -@dangerous, refuses
// INFO, which WaitReplicas needs.
func TestProbeNamesMissingPermissions(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		setUser := func(rules ...string) {
			require.NoError(t, c.Do(ctx, c.B().AclSetuser().Username("app").Rule(rules...).Build()).Error())
		}
		setUser("reset", "on", ">app-password", "~*", "&*", "+@all", "-@dangerous")
		app := srv.driver(t, "app", "app-password")

		_, err := New(ctx, app, Options{WaitReplicas: 1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "INFO replication")
		assert.Contains(t, err.Error(), "+info")
		t.Logf("WaitReplicas: 1 under +@all -@dangerous: %v", err)
		l, err := New(ctx, app, Options{})
		require.NoError(t, err, "without WaitReplicas, +@all -@dangerous is enough")
		defer l.Close()
		require.NoError(t, l.Revoke(ctx, cookiesession.SessionRevocation("s", time.Now().Add(time.Hour))))

		setUser("-publish")
		_, err = New(ctx, app, Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "PUBLISH {cookiesession:revocations:}records")
	})
}

// TestWrittenOnce: an entry whose write succeeded is never written again,
// when INFO or WAIT fail after it (an ACL changed after New); a foreign
// key of the wrong type is an error naming the key, logged at ERROR,
// before anything is written and without a retry loop.
func TestWrittenOnce(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		t.Run("INFO refused after the write", func(t *testing.T) {
			srv := k.startRedis(t)
			c := srv.client(t)
			ctx := context.Background()
			require.NoError(t, c.Do(ctx, c.B().AclSetuser().Username("app").Rule("reset", "on", ">pw", "~*", "&*", "+@all", "-@dangerous", "+info").Build()).Error())
			l, err := New(ctx, srv.driver(t, "app", "pw"), Options{WaitReplicas: 1, Timeout: 200 * time.Millisecond})
			require.NoError(t, err)
			defer l.Close()
			require.NoError(t, c.Do(ctx, c.B().AclSetuser().Username("app").Rule("-info").Build()).Error())
			r := cookiesession.SessionRevocation("written-once", time.Now().Add(time.Hour))
			require.Error(t, l.Revoke(ctx, r))
			time.Sleep(2500 * time.Millisecond) // retries, about one a second
			assert.EqualValues(t, len(appendRecord(nil, r)), storedBytes(t, c, l), "written once, then only confirmed")
		})
		t.Run("a foreign key of the wrong type", func(t *testing.T) {
			srv := k.startRedis(t)
			c := srv.client(t)
			ctx := context.Background()
			var logs syncBuffer
			l := srv.list(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			until := time.Now().Add(time.Hour)
			day := l.dayKey(dayEnd(until))
			for _, foreign := range []string{l.index, day} {
				require.NoError(t, c.Do(ctx, c.B().Del().Key(l.index, day).Build()).Error())
				require.NoError(t, c.Do(ctx, c.B().Rpush().Key(foreign).Element("not the list's").Build()).Error())
				c.Do(ctx, c.B().ConfigResetstat().Build())
				err := l.Revoke(ctx, cookiesession.SessionRevocation("s-"+foreign, until))
				require.Error(t, err)
				assert.Contains(t, err.Error(), foreign, "the error names the key")
				assert.Contains(t, logs.String(), "level=ERROR")
				assert.Contains(t, logs.String(), foreign)
				time.Sleep(1200 * time.Millisecond)
				calls := commandCalls(t, c)
				assert.Equal(t, 1, calls["eval"], "not retried")
				assert.Zero(t, calls["append"]+calls["zadd"]+calls["publish"], "nothing written")
				l.mu.Lock()
				assert.Empty(t, l.pending)
				l.mu.Unlock()
			}
			// A replica starting on an index of the wrong type is refused at
			// once, with the key named, rather than waiting for a load that
			// cannot succeed.
			require.NoError(t, c.Do(ctx, c.B().Rpush().Key(l.index).Element("not the list's").Build()).Error())
			start := time.Now()
			_, err := New(ctx, srv.driver(t, "", ""), Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), l.index)
			assert.Less(t, time.Since(start), time.Second)
		})
	})
}

// heapAfter is the live heap after f, collected twice, so that what
// sync.Pools (the client's) keep is gone too.
func heapAfter(f func()) uint64 {
	f()
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
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

// aclRules keep the list to one Redis user of the service's own: only
// the commands it runs, only on its keys and its channel. The README's
// ACL example is these rules.
const aclRules = "on >choose-a-password resetkeys resetchannels ~{cookiesession:revocations:}* &{cookiesession:revocations:}records " +
	"-@all +@connection +eval +type +append +pexpireat +pexpiretime +zadd +zrange +zremrangebyscore +time +publish " +
	"+strlen +getrange +subscribe +info|replication +set +wait"

// TestACLExample: the README's ACL lets the service's user run the list,
// WaitReplicas included, and a user for everything else, without the
// list's keys and channel, cannot revoke.
func TestACLExample(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		require.NoError(t, c.Do(ctx, c.B().Arbitrary(append([]string{"ACL", "SETUSER", "sessions"}, strings.Fields(aclRules)...)...).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().AclSetuser().Username("app").Rule("on", ">app-password", "~app:*", "&app:*", "+@all").Build()).Error())

		l, err := New(ctx, srv.driver(t, "sessions", "choose-a-password"), Options{WaitReplicas: 1, Timeout: time.Second})
		require.NoError(t, err)
		defer l.Close()
		s := info("s", "", time.Now())
		err = l.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires))
		require.ErrorContains(t, err, "0 of the 1 replicas", "written, and waiting for a Redis replica")
		late := srv.list(t, Options{})
		assert.True(t, late.Revoked(ctx, s))

		app := rueidisClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}, Username: "app", Password: "app-password"})
		err = app.Do(ctx, app.B().Publish().Channel(l.channel).Message(messageMagic+string(appendRecord(nil, cookiesession.AllRevocation(time.Now(), time.Now().Add(day))))).Build()).Error()
		assert.ErrorContains(t, err, "NOPERM")
		err = app.Do(ctx, app.B().Append().Key(l.dayKey(dayEnd(s.Expires))).Value("x").Build()).Error()
		assert.ErrorContains(t, err, "NOPERM")
	})
}

// shortRecords is n bytes of session records with names of one byte, the
// shortest records there are: the most entries per byte.
func shortRecords(n int, until time.Time) string {
	var b []byte
	for i := 0; len(b)+11 <= n; i++ {
		b = appendRecord(b, cookiesession.SessionRevocation(string(rune('!'+i%90)), until))
	}
	return string(b)
}

// TestMessageMemory: a message longer than the list ever publishes is
// refused unread; the largest it publishes, of the shortest records, is
// applied with at most about twice its size allocated, beside the
// entries the local table keeps.
func TestMessageMemory(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		until := time.Now().Add(time.Hour)
		l := &List{local: cookiesession.NewMemoryRevocations()}
		l.local.Grow(1 << 16) // the table's own growth is not the message's
		records := shortRecords(maxMessageRecords, until)
		var used int
		bytes := allocated(func() { used, _, _, _ = l.apply(records) })
		t.Logf("a message of %d bytes of records: %d bytes allocated to apply it (%.2fx)", len(records), bytes, float64(bytes)/float64(len(records)))
		assert.Equal(t, len(records), used)
		assert.LessOrEqual(t, bytes, uint64(2*len(records)))

		srv := k.startRedis(t)
		c := srv.client(t)
		var logs syncBuffer
		a := srv.list(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		big := messageMagic + shortRecords(8<<20, until)
		require.NoError(t, c.Do(context.Background(), c.B().Publish().Channel(a.channel).Message(big).Build()).Error())
		eventually(t, 2*time.Second, func() bool { return strings.Contains(logs.String(), "longer than the list ever publishes") }, "an 8 MB message refused")
		assert.Zero(t, a.local.Len())
	})
}

// BenchmarkApply reports what applying the largest message the list
// publishes allocates, per byte of the message.
func BenchmarkApply(b *testing.B) {
	until := time.Now().Add(time.Hour)
	records := shortRecords(maxMessageRecords, until)
	l := &List{local: cookiesession.NewMemoryRevocations()}
	l.local.Grow(1 << 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(records)))
	for b.Loop() {
		_, _, _, _ = l.apply(records)
	}
}

// TestJunkDayCostsNothing: 32 MB of junk in one indexed day, and 32 MB of
// records that revoke nothing any more in another, leave a replica
// holding nothing for them: the table grows by what decodes and is still
// in force.
func TestJunkDayCostsNothing(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		var logs syncBuffer
		a := srv.list(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		// What a replica holds once loaded, beside its client (whose
		// connections keep recent replies until their slots are reused).
		load := func() *List {
			client, closeClient := k.open(t, srv.Addr, "", "")
			defer closeClient()
			l, err := New(ctx, client, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			l.Close()
			return l
		}
		var late, baseline *List
		before := heapAfter(func() {})
		held0 := heapAfter(func() { baseline = load() }) - before

		expiry := time.Now().Add(2 * day)
		key := a.dayKey(dayEnd(expiry))
		require.NoError(t, c.Do(ctx, c.B().Set().Key(key).Value(strings.Repeat("\xff", 32<<20)).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().Zadd().Key(a.index).ScoreMember().ScoreMember(float64(expiry.UnixMilli()), key).Build()).Error())
		// And a day of records that read well but revoke nothing any more.
		var expired []byte
		for i := 0; len(expired) < 32<<20; i++ {
			expired = appendRecord(expired, cookiesession.SessionRevocation(fmt.Sprintf("expired-session-%06d", i), time.UnixMilli(1)))
		}
		other := a.dayKey(dayEnd(expiry.Add(day)))
		require.NoError(t, c.Do(ctx, c.B().Set().Key(other).Value(string(expired)).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().Zadd().Key(a.index).ScoreMember().ScoreMember(float64(expiry.Add(day).UnixMilli()), other).Build()).Error())
		before = heapAfter(func() {})
		held := heapAfter(func() { late = load() }) - before
		t.Logf("a replica loading 32 MB of junk and 32 MB of expired records holds %d KB, one loading an empty list %d KB", held>>10, held0>>10)
		assert.Zero(t, late.local.Len())
		assert.Less(t, int64(held)-int64(held0), int64(4<<20), "nothing like the 32 MB's worth of table")
		assert.Contains(t, logs.String(), "skipped the rest of a bucket")
		runtime.KeepAlive(baseline)
		runtime.KeepAlive(late)
	})
}

// TestCrash: Redis killed with SIGKILL right after revocations were
// acknowledged, under each setting of the README's deployments table.
// Replicas that were running keep enforcing what they had either way;
// a replica started after the crash loads them with an append-only file
// (fsync always, or every second: a crash of Redis alone loses nothing
// its kernel has), and nothing without persistence.
func TestCrash(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		for _, tc := range []struct {
			name  string
			args  []string
			loads bool
		}{
			{"appendfsync always", nil, true},
			{"appendfsync everysec", []string{"--appendfsync", "everysec"}, true},
			{"no persistence", []string{"--appendonly", "no"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := k.startRedis(t, tc.args...)
				ctx, now := context.Background(), time.Now()
				a, b := srv.list(t, Options{}), srv.list(t, Options{})
				seen := logouts(100, false)
				require.NoError(t, a.RevokeMany(ctx, seen))
				eventually(t, 2*time.Second, func() bool { return b.local.Len() == len(seen) }, "the other replica has them")
				acked := logouts(100, false)
				require.NoError(t, a.RevokeMany(ctx, acked))
				srv.Kill() // right after the acknowledgement
				srv.Restart()
				eventually(t, 20*time.Second, func() bool { return a.Stale() == 0 && b.Stale() == 0 }, "reconnected")

				for _, r := range append(seen, acked...) {
					require.True(t, a.Revoked(ctx, info(r.SessionID, "", now)), "the revoking replica keeps it")
				}
				for _, r := range seen {
					require.True(t, b.Revoked(ctx, info(r.SessionID, "", now)), "the other replica keeps what it had")
				}
				late := srv.list(t, Options{})
				if tc.loads {
					assert.Equal(t, len(seen)+len(acked), late.local.Len(), "a replica started after the crash loads every acknowledged one")
					eventually(t, 5*time.Second, func() bool { return b.local.Len() == len(seen)+len(acked) }, "and so does the other replica, by message or reload")
				} else {
					assert.Zero(t, late.local.Len(), "without persistence, a replica started after the crash has none")
				}
				after := info("after-the-crash", "", now)
				// The client's first write after the restart may meet the
				// connection Redis dropped: an error, and a retry.
				_ = a.Revoke(ctx, cookiesession.SessionRevocation(after.ID, after.Expires))
				eventually(t, 3*time.Second, func() bool { return b.Revoked(ctx, after) && late.Revoked(ctx, after) }, "a revocation after the crash reaches all")
			})
		}
	})
}
