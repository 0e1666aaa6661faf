package integration

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
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedBytes is the size of every string the index of the list under
// the default prefix names.
func storedBytes(t testing.TB, c rueidis.Client) int64 {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Zrange().Key(defaultKeys.Index).Min("0").Max("-1").Build()).AsStrSlice()
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
		l, other := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
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
		stored := storedBytes(t, c)
		t.Logf("%d replays of one logout: %d bytes of records in Redis, %d script calls after the first", replays, stored, calls["eval"])
		if time.Now().UTC().Truncate(day) != startDay {
			t.Skip("the UTC day changed during the replays: a replay on the next day is a new entry")
		}
		assert.Zero(t, calls["eval"], "no write and no message for a replay")
		assert.Zero(t, calls["publish"])
		eventually(t, time.Second, func() bool { return other.Len() == 1 }, "the other replica has the one entry")
		assert.Less(t, stored, int64(2*record.SessionSize), "one record in Redis")
	})
}

// TestDayBeyondOneString: with proto-max-bulk-len at its minimum (1 MB),
// 40,000 revocations of one day, then a flood of the same 40,000 with a
// later Until, are all shared, and all reach a replica started
// afterwards; a logout after the flood reaches every replica.
func TestDayBeyondOneString(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		ctx := context.Background()
		err := c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("proto-max-bulk-len", strconv.Itoa(1<<20-1)).Build()).Error()
		require.Error(t, err, "1 MB is the smallest limit Redis allows")
		require.NoError(t, c.Do(ctx, c.B().ConfigSet().ParameterValue().ParameterValue("proto-max-bulk-len", "1mb").Build()).Error())

		a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
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

		keys, err := c.Do(ctx, c.B().Zrange().Key(defaultKeys.Index).Min("0").Max("-1").Build()).AsStrSlice()
		require.NoError(t, err)
		t.Logf("one day of %d bytes of records in %d strings", storedBytes(t, c), len(keys))
		assert.GreaterOrEqual(t, len(keys), 3, "the day rolled over to further strings")
		assert.Equal(t, defaultKeys.Day(record.DayEnd(until)), keys[0])

		// Every string of the day is read: the flood's records, with their
		// later Until, are there beside the first ones (a replica applying
		// both keeps the later: TestApplyKeepsTheLaterUntil).
		st, err := a.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2*n+1, st.Sessions, "records read")
		assert.Equal(t, until.Add(time.Second).UnixMilli(), st.Newest.UnixMilli(), "the flood's later Until")
		late := srv.list(t, redisrevocation.Options{})
		assert.Equal(t, n+1, late.Len())
		for _, i := range []int{0, n / 3, n / 2, n - 1} {
			assert.True(t, late.Revoked(ctx, info(rs[i].SessionID, "", time.Now())), rs[i].SessionID)
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
		var logs redistest.Logs
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		a := srv.list(t, redisrevocation.Options{Logger: logger})
		future := cookiesession.AllRevocation(now.Add(300*day), now.Add(400*day))
		fresh := info("fresh", "ada", now.Add(time.Second))

		err := a.Revoke(ctx, future)
		require.ErrorIs(t, err, record.ErrOutOfBounds)
		require.Error(t, a.Revoke(ctx, cookiesession.SubjectRevocation("ada", now.Add(time.Hour), now.Add(400*day))))
		assert.False(t, a.Revoked(ctx, fresh), "not in force")

		// On the channel, three times, beside a record that is fine.
		message := record.Magic + string(record.Append(record.Append(nil, future), cookiesession.SessionRevocation("beside", now.Add(time.Hour))))
		for range 3 {
			require.NoError(t, c.Do(ctx, c.B().Publish().Channel(defaultKeys.Channel).Message(message).Build()).Error())
		}
		eventually(t, 2*time.Second, func() bool { return a.Revoked(ctx, info("beside", "", now)) }, "the record beside it applied")
		time.Sleep(50 * time.Millisecond)
		assert.False(t, a.Revoked(ctx, fresh), "the future one refused")
		assert.Equal(t, 1, strings.Count(logs.String(), "out of bounds on the list's channel"), "logged once: %s", logs.String())
		assert.Contains(t, logs.String(), "level=ERROR")

		// In a day's string, as a foreign writer would append it.
		key := defaultKeys.Day(record.DayEnd(now.Add(400 * day)))
		require.NoError(t, c.Do(ctx, c.B().Append().Key(key).Value(string(record.Append(nil, future))).Build()).Error())
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation("same-day", now.Add(400*day))))
		late := srv.list(t, redisrevocation.Options{Logger: logger})
		assert.False(t, late.Revoked(ctx, fresh), "not loaded")
		assert.True(t, late.Revoked(ctx, info("same-day", "", now)), "the record after it in the same string loaded")
		assert.Equal(t, 1, strings.Count(logs.String(), "out of bounds in the list"), "logged once for the string")
		assert.Contains(t, logs.String(), key)
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

		_, err := redisrevocation.New(ctx, app, redisrevocation.Options{WaitReplicas: 1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "INFO replication")
		assert.Contains(t, err.Error(), "+info")
		t.Logf("WaitReplicas: 1 under +@all -@dangerous: %v", err)
		l, err := redisrevocation.New(ctx, app, redisrevocation.Options{})
		require.NoError(t, err, "without WaitReplicas, +@all -@dangerous is enough")
		defer l.Close()
		require.NoError(t, l.Revoke(ctx, cookiesession.SessionRevocation("s", time.Now().Add(time.Hour))))

		setUser("-publish")
		_, err = redisrevocation.New(ctx, app, redisrevocation.Options{})
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
			l, err := redisrevocation.New(ctx, srv.driver(t, "app", "pw"), redisrevocation.Options{WaitReplicas: 1, Timeout: 200 * time.Millisecond})
			require.NoError(t, err)
			defer l.Close()
			require.NoError(t, c.Do(ctx, c.B().AclSetuser().Username("app").Rule("-info").Build()).Error())
			r := cookiesession.SessionRevocation("written-once", time.Now().Add(time.Hour))
			require.Error(t, l.Revoke(ctx, r))
			time.Sleep(2500 * time.Millisecond) // retries, about one a second
			assert.EqualValues(t, len(record.Append(nil, r)), storedBytes(t, c), "written once, then only confirmed")
		})
		t.Run("a foreign key of the wrong type", func(t *testing.T) {
			srv := k.startRedis(t)
			c := srv.client(t)
			ctx := context.Background()
			var logs redistest.Logs
			l := srv.list(t, redisrevocation.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			until := time.Now().Add(time.Hour)
			dayKey := defaultKeys.Day(record.DayEnd(until))
			for _, foreign := range []string{defaultKeys.Index, dayKey} {
				require.NoError(t, c.Do(ctx, c.B().Del().Key(defaultKeys.Index, dayKey).Build()).Error())
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
				assert.Zero(t, l.Pending())
			}
			// A replica starting on an index of the wrong type is refused at
			// once, with the key named, rather than waiting for a load that
			// cannot succeed.
			require.NoError(t, c.Do(ctx, c.B().Rpush().Key(defaultKeys.Index).Element("not the list's").Build()).Error())
			start := time.Now()
			_, err := redisrevocation.New(ctx, srv.driver(t, "", ""), redisrevocation.Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), defaultKeys.Index)
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

		l, err := redisrevocation.New(ctx, srv.driver(t, "sessions", "choose-a-password"), redisrevocation.Options{WaitReplicas: 1, Timeout: time.Second})
		require.NoError(t, err)
		defer l.Close()
		s := info("s", "", time.Now())
		err = l.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires))
		require.ErrorContains(t, err, "0 of the 1 replicas", "written, and waiting for a Redis replica")
		late := srv.list(t, redisrevocation.Options{})
		assert.True(t, late.Revoked(ctx, s))

		app := rueidisClient(t, rueidis.ClientOption{InitAddress: []string{srv.Addr}, Username: "app", Password: "app-password"})
		err = app.Do(ctx, app.B().Publish().Channel(defaultKeys.Channel).Message(record.Magic+string(record.Append(nil, cookiesession.AllRevocation(time.Now(), time.Now().Add(day))))).Build()).Error()
		assert.ErrorContains(t, err, "NOPERM")
		err = app.Do(ctx, app.B().Append().Key(defaultKeys.Day(record.DayEnd(s.Expires))).Value("x").Build()).Error()
		assert.ErrorContains(t, err, "NOPERM")
	})
}

// TestOversizedMessage: a message longer than the list ever publishes is
// refused unread. (How much the largest it publishes costs to apply:
// TestMessageMemory, beside the list.)
func TestOversizedMessage(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		c := srv.client(t)
		var logs redistest.Logs
		a := srv.list(t, redisrevocation.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		one := record.Append(nil, cookiesession.SessionRevocation("x", time.Now().Add(time.Hour)))
		big := record.Magic + strings.Repeat(string(one), (8<<20)/len(one))
		require.NoError(t, c.Do(context.Background(), c.B().Publish().Channel(defaultKeys.Channel).Message(big).Build()).Error())
		eventually(t, 2*time.Second, func() bool { return strings.Contains(logs.String(), "longer than the list ever publishes") }, "an 8 MB message refused")
		assert.Zero(t, a.Len())
	})
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
		var logs redistest.Logs
		// What a replica holds once loaded, beside its client (whose
		// connections keep recent replies until their slots are reused).
		load := func() *redisrevocation.List {
			client, closeClient := k.open(t, srv.Addr, "", "")
			defer closeClient()
			l, err := redisrevocation.New(ctx, client, redisrevocation.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			l.Close()
			return l
		}
		var late, baseline *redisrevocation.List
		before := heapAfter(func() {})
		held0 := heapAfter(func() { baseline = load() }) - before

		expiry := time.Now().Add(2 * day)
		key := defaultKeys.Day(record.DayEnd(expiry))
		require.NoError(t, c.Do(ctx, c.B().Set().Key(key).Value(strings.Repeat("\xff", 32<<20)).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().Zadd().Key(defaultKeys.Index).ScoreMember().ScoreMember(float64(expiry.UnixMilli()), key).Build()).Error())
		// And a day of records that read well but revoke nothing any more.
		var expired []byte
		for i := 0; len(expired) < 32<<20; i++ {
			expired = record.Append(expired, cookiesession.SessionRevocation(fmt.Sprintf("expired-session-%06d", i), time.UnixMilli(1)))
		}
		other := defaultKeys.Day(record.DayEnd(expiry.Add(day)))
		require.NoError(t, c.Do(ctx, c.B().Set().Key(other).Value(string(expired)).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().Zadd().Key(defaultKeys.Index).ScoreMember().ScoreMember(float64(expiry.Add(day).UnixMilli()), other).Build()).Error())
		before = heapAfter(func() {})
		held := heapAfter(func() { late = load() }) - before
		t.Logf("a replica loading 32 MB of junk and 32 MB of expired records holds %d KB, one loading an empty list %d KB", held>>10, held0>>10)
		assert.Zero(t, late.Len())
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
// (fsync always; or every second, where a crash of Redis alone loses
// nothing it wrote to the kernel, which is all it acknowledged unless the
// previous second's fsync was still running: then Redis holds writes back
// for up to two seconds, and INFO shows them in aof_buffer_length), and
// nothing without persistence.
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
				a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
				seen := logouts(100, false)
				require.NoError(t, a.RevokeMany(ctx, seen))
				eventually(t, 2*time.Second, func() bool { return b.Len() == len(seen) }, "the other replica has them")
				acked := logouts(100, false)
				require.NoError(t, a.RevokeMany(ctx, acked))
				// What Redis acknowledged but holds back from the kernel: its
				// INFO answers after the event loop tried to write it.
				heldBack := 0
				if tc.loads {
					c := srv.client(t)
					persistence, err := c.Do(ctx, c.B().Info().Section("persistence").Build()).ToString()
					require.NoError(t, err)
					n, ok := infoField(persistence, "aof_buffer_length")
					require.True(t, ok, "INFO persistence gives aof_buffer_length")
					heldBack = n
				}
				srv.Kill() // right after the acknowledgement
				srv.Restart()
				eventually(t, 20*time.Second, func() bool { return a.Stale() == 0 && b.Stale() == 0 }, "reconnected")

				for _, r := range append(seen, acked...) {
					require.True(t, a.Revoked(ctx, info(r.SessionID, "", now)), "the revoking replica keeps it")
				}
				for _, r := range seen {
					require.True(t, b.Revoked(ctx, info(r.SessionID, "", now)), "the other replica keeps what it had")
				}
				late := srv.list(t, redisrevocation.Options{})
				switch {
				case tc.loads && heldBack > 0:
					// A busy disk: what Redis held back (up to two seconds of
					// writes) is lost with it, as the README says; what it had
					// written loads.
					t.Logf("Redis held %d bytes back for a running fsync when it was killed; a replica started after the crash loads %d of %d",
						heldBack, late.Len(), len(seen)+len(acked))
					assert.Less(t, late.Len(), len(seen)+len(acked), "held back, so not all of them")
				case tc.loads:
					assert.Equal(t, len(seen)+len(acked), late.Len(), "a replica started after the crash loads every acknowledged one")
					eventually(t, 5*time.Second, func() bool { return b.Len() == len(seen)+len(acked) }, "and so does the other replica, by message or reload")
				default:
					assert.Zero(t, late.Len(), "without persistence, a replica started after the crash has none")
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

// infoField is the integer field name of an INFO reply.
func infoField(info, name string) (int, bool) {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}
