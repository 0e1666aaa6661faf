package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testKeys = [][]byte{[]byte("redisrevocation-test-key-0001-not-for-production")}

func info(id, subject string, created time.Time) cookiesession.SessionInfo {
	return cookiesession.SessionInfo{ID: id, Subject: subject, Created: created, Expires: created.Add(time.Hour)}
}

// eventually polls cond every 50 µs for up to d and returns how long it
// took to hold.
func eventually(t *testing.T, d time.Duration, cond func() bool, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return time.Since(start)
}

// TestPropagation: three replicas, each with its own client. A revocation
// made on one is enforced on the other two within 100 ms at p99, over 200
// revocations.
func TestPropagation(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		var lists [3]*redisrevocation.List
		for i := range lists {
			lists[i] = srv.list(t, redisrevocation.Options{})
		}
		propagate(t, lists[:], "session", 200)
	})
}

// propagate makes n revocations, on each list in turn, and asserts that
// each is in force at once where it was made and on every other list
// within 100 ms at p99. It returns the sessions revoked.
func propagate(t *testing.T, lists []*redisrevocation.List, name string, n int) []cookiesession.SessionInfo {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	var latencies []time.Duration
	var revoked []cookiesession.SessionInfo
	for i := range n {
		from := lists[i%len(lists)]
		s := info(fmt.Sprintf("%s-%03d", name, i), "", now)
		start := time.Now()
		require.NoError(t, from.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires)))
		require.True(t, from.Revoked(ctx, s), "in force at once where it was made")
		revoked = append(revoked, s)
		for _, other := range lists {
			if other != from {
				eventually(t, 5*time.Second, func() bool { return other.Revoked(ctx, s) }, "propagation")
				latencies = append(latencies, time.Since(start))
			}
		}
	}
	slices.Sort(latencies)
	p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
	t.Logf("revoke on one replica -> enforced on another, %d samples: p50 %v, p99 %v, max %v",
		len(latencies), p50.Round(time.Microsecond), p99.Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))
	assert.Less(t, p99, 100*time.Millisecond)
	return revoked
}

// TestReplicasThroughManagers: the three kinds of revocation, made through
// one replica's Manager, end sessions on the others; sessions made after
// them live on.
func TestReplicasThroughManagers(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		var managers [3]*cookiesession.Manager
		for i := range managers {
			m, err := cookiesession.New(cookiesession.Options{Secrets: testKeys, Revocations: srv.list(t, redisrevocation.Options{})})
			require.NoError(t, err)
			managers[i] = m
		}
		login := func(m *cookiesession.Manager, user string) string {
			s := m.LoadHeader()
			s.SetSubject(user)
			s.Set("user", user)
			lines, err := m.SaveHeader(s)
			require.NoError(t, err)
			return strings.SplitN(lines[0], ";", 2)[0]
		}
		valid := func(m *cookiesession.Manager, cookie string) bool {
			_, err := m.Inspect(cookie)
			return err == nil
		}
		ada, phone, grace := login(managers[0], "ada"), login(managers[1], "ada"), login(managers[2], "grace")

		// Logout of one session, made on replica 0.
		s := managers[0].LoadHeader(ada)
		require.NoError(t, managers[0].RevokeSession(ctx, s))
		for _, m := range managers {
			eventually(t, 2*time.Second, func() bool { return !valid(m, ada) }, "session revoked everywhere")
			assert.True(t, valid(m, phone))
		}

		// Every session of a subject, made on replica 1. Revocations count in
		// milliseconds; a session of the same millisecond would survive.
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, managers[1].RevokeSubject(ctx, "ada"))
		for _, m := range managers {
			eventually(t, 2*time.Second, func() bool { return !valid(m, phone) }, "subject revoked everywhere")
			assert.True(t, valid(m, grace))
		}
		time.Sleep(2 * time.Millisecond)
		adaAgain := login(managers[2], "ada")

		// Everyone, made on replica 2.
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, managers[2].RevokeAll(ctx))
		for _, m := range managers {
			eventually(t, 2*time.Second, func() bool { return !valid(m, grace) && !valid(m, adaAgain) }, "everyone revoked everywhere")
		}
		time.Sleep(2 * time.Millisecond)
		assert.True(t, valid(managers[0], login(managers[1], "grace")), "a session created afterwards lives")
	})
}

// TestLateReplica: a replica started after revocations were made rejects
// those sessions from its first request.
func TestLateReplica(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		early := srv.list(t, redisrevocation.Options{})
		now := time.Now()
		require.NoError(t, early.Revoke(ctx, cookiesession.SessionRevocation("s1", now.Add(time.Hour))))
		require.NoError(t, early.Revoke(ctx, cookiesession.SubjectRevocation("ada", now, now.Add(time.Hour))))
		require.NoError(t, early.Revoke(ctx, cookiesession.SubjectRevocation("line\nbreak", now, now.Add(time.Hour))))

		late := srv.list(t, redisrevocation.Options{})
		assert.True(t, late.Revoked(ctx, info("s1", "", now)))
		assert.True(t, late.Revoked(ctx, info("s2", "ada", now.Add(-time.Minute))))
		assert.True(t, late.Revoked(ctx, info("s3", "line\nbreak", now.Add(-time.Minute))))
		assert.False(t, late.Revoked(ctx, info("s4", "grace", now.Add(-time.Minute))))
	})
}

// TestEntriesExpireWithTheirSessions: Redis keeps an entry only until the
// day its sessions expire has ended, and drops it by itself; an entry
// whose sessions have expired already is not stored at all.
func TestEntriesExpireWithTheirSessions(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		l := srv.list(t, redisrevocation.Options{})
		until := time.Now().Add(90 * time.Second)
		require.NoError(t, l.Revoke(ctx, cookiesession.SessionRevocation("s1", until)))
		c := srv.client(t)
		key := defaultKeys.Day(record.DayEnd(until))
		expires, err := c.Do(ctx, c.B().Pexpiretime().Key(key).Build()).AsInt64()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, expires, until.UnixMilli(), "kept while its sessions live")
		assert.LessOrEqual(t, expires, until.Add(day).UnixMilli(), "dropped within a day after")
		indexExpires, err := c.Do(ctx, c.B().Pexpiretime().Key(defaultKeys.Index).Build()).AsInt64()
		require.NoError(t, err)
		assert.Equal(t, expires, indexExpires, "the index goes with its last day")

		require.NoError(t, l.Revoke(ctx, cookiesession.SessionRevocation("old", time.Now().Add(-time.Second))))
		days, err := c.Do(ctx, c.B().Zrange().Key(defaultKeys.Index).Min("0").Max("-1").Build()).AsStrSlice()
		require.NoError(t, err)
		assert.Equal(t, []string{key}, days, "nothing stored for the expired entry")
		n, err := c.Do(ctx, c.B().Strlen().Key(key).Build()).AsInt64()
		require.NoError(t, err)
		assert.EqualValues(t, len(record.Append(nil, cookiesession.SessionRevocation("s1", until))), n)
	})
}

// TestRedisRestart: Redis stops and comes back with its append-only file.
// Replicas serve from memory meanwhile; a revocation made during the
// outage is an error to its caller, in force on its replica, and shared
// once Redis is back; nothing made before or during the outage is lost.
func TestRedisRestart(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
		now := time.Now()
		before, during := info("before", "", now), info("during", "", now)
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation(before.ID, before.Expires)))
		eventually(t, time.Second, func() bool { return b.Revoked(ctx, before) }, "before the outage")

		srv.Stop()
		eventually(t, 15*time.Second, func() bool { return a.Stale() > 0 && b.Stale() > 0 }, "outage noticed")
		err := a.Revoke(ctx, cookiesession.SessionRevocation(during.ID, during.Expires))
		require.Error(t, err, "revoking while Redis is down is an error")
		assert.Contains(t, err.Error(), "in force on this replica only")
		assert.True(t, a.Revoked(ctx, during))
		assert.True(t, b.Revoked(ctx, before), "serving from the last known list")
		assert.False(t, b.Revoked(ctx, during))

		srv.Restart()
		eventually(t, 20*time.Second, func() bool { return a.Stale() == 0 && b.Stale() == 0 }, "reconnected")
		eventually(t, 2*time.Second, func() bool { return b.Revoked(ctx, during) }, "the outage's revocation shared")
		late := srv.list(t, redisrevocation.Options{})
		assert.True(t, late.Revoked(ctx, before), "kept by the append-only file")
		assert.True(t, late.Revoked(ctx, during))
	})
}

// TestRetryWithoutReconnect: a revocation whose write to Redis failed
// while the subscription stayed up reaches Redis on its own schedule:
// after Redis stalled for longer than Options.Timeout, and after the
// caller's context was cancelled (the client left during the logout).
// Then a second replica and a replica started later refuse the session.
func TestRetryWithoutReconnect(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		now := time.Now()
		stalled, left := info("redis-stalled", "", now), info("client-left", "", now)
		t.Run("stall", func(t *testing.T) {
			srv := k.startRedis(t)
			a, b := srv.list(t, redisrevocation.Options{Timeout: 500 * time.Millisecond}), srv.list(t, redisrevocation.Options{})
			require.NoError(t, syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGSTOP))
			stopped := time.Now()
			err := a.Revoke(context.Background(), cookiesession.SessionRevocation(stalled.ID, stalled.Expires))
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), "retrying")
			time.Sleep(1500*time.Millisecond - time.Since(stopped))
			require.NoError(t, syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGCONT))
			took := eventually(t, 2*time.Second, func() bool { return b.Revoked(context.Background(), stalled) }, "shared after the stall")
			t.Logf("1.5 s stall: on the other replica %v after Redis resumed", took.Round(time.Millisecond))
			assert.Zero(t, a.Stale(), "the subscription never dropped")
			late := srv.list(t, redisrevocation.Options{})
			assert.True(t, late.Revoked(context.Background(), stalled), "Redis has it")
		})
		t.Run("cancelled context", func(t *testing.T) {
			srv := k.startRedis(t)
			a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			err := a.Revoke(cancelled, cookiesession.SessionRevocation(left.ID, left.Expires))
			require.ErrorIs(t, err, context.Canceled)
			took := eventually(t, 2*time.Second, func() bool { return b.Revoked(context.Background(), left) }, "shared after a cancelled context")
			t.Logf("cancelled context: on the other replica after %v", took.Round(time.Millisecond))
			late := srv.list(t, redisrevocation.Options{})
			assert.True(t, late.Revoked(context.Background(), left), "Redis has it")
			assert.Zero(t, a.Pending())
		})
	})
}

// TestCloseTriesWhatWaits: a revocation still waiting for Redis at Close
// gets a last try; if Redis is still away it is logged as lost, and a
// revocation after Close is not promised a retry.
func TestCloseTriesWhatWaits(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		var logs redistest.Logs
		a := srv.list(t, redisrevocation.Options{Timeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		b := srv.list(t, redisrevocation.Options{})
		now := time.Now()
		require.NoError(t, syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGSTOP))
		waiting := info("waiting", "", now)
		require.Error(t, a.Revoke(context.Background(), cookiesession.SessionRevocation(waiting.ID, waiting.Expires)))
		require.NoError(t, syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGCONT))
		a.Close() // whether the retry or the last try wrote it, Redis has it
		eventually(t, 2*time.Second, func() bool { return b.Revoked(context.Background(), waiting) }, "shared by Close")

		c := srv.list(t, redisrevocation.Options{Timeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGSTOP))
		defer syscall.Kill(srv.Cmd.Process.Pid, syscall.SIGCONT)
		lost := info("lost", "", now)
		require.Error(t, c.Revoke(context.Background(), cookiesession.SessionRevocation(lost.ID, lost.Expires)))
		c.Close()
		assert.Contains(t, logs.String(), "closed with revocations Redis never got")
		err := c.Revoke(context.Background(), cookiesession.SessionRevocation("after", lost.Expires))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the list is closed")
	})
}

// TestRevokeMany: an operator revokes 50,000 sessions in one call, after
// an incident. They are in force here at once, reach Redis in pipelined
// batches, and every other replica, and a late one, refuse them all.
func TestRevokeMany(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{})
		now := time.Now()
		const n = 50_000
		rs := make([]cookiesession.Revocation, n)
		for i := range rs {
			rs[i] = cookiesession.SessionRevocation(fmt.Sprintf("incident-%05d", i), now.Add(time.Hour))
		}
		start := time.Now()
		require.NoError(t, a.RevokeMany(ctx, rs))
		took := time.Since(start)
		propagated := eventually(t, 10*time.Second, func() bool { return b.Revoked(ctx, info(rs[n-1].SessionID, "", now)) }, "the last on the other replica")
		t.Logf("%d revocations: RevokeMany took %v; the last was on the other replica %v later", n, took.Round(time.Millisecond), propagated.Round(time.Millisecond))
		assert.Less(t, took, 10*time.Second, "pipelined, not a round trip each (about 1 s here)")
		for _, i := range []int{0, 1, n / 2, n - 2} {
			assert.True(t, b.Revoked(ctx, info(rs[i].SessionID, "", now)), rs[i].SessionID)
		}
		// One day's bucket of 1.2 MB, in records of 24 bytes, which the load's
		// pages of 256 KiB cut: every one is read across the cuts.
		late := srv.list(t, redisrevocation.Options{})
		assert.True(t, late.Revoked(ctx, info(rs[n/3].SessionID, "", now)))
		assert.Equal(t, n, late.Len())
		assert.NotZero(t, record.PageSize%len(record.Append(nil, rs[0])), "records straddle pages")

		bad := []cookiesession.Revocation{cookiesession.SessionRevocation("fine", now.Add(time.Hour)), {Until: now}}
		err := a.RevokeMany(ctx, bad)
		assert.ErrorContains(t, err, "revocation 1")
		assert.False(t, a.Revoked(ctx, info("fine", "", now)), "nothing applied when one is invalid")
	})
}

// TestPrefixesAreSeparate: lists under different prefixes, including
// prefixes holding glob characters, load their own entries and only
// those. A prefix with a brace, which would break the hash tag, is
// refused.
func TestPrefixesAreSeparate(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx, now := context.Background(), time.Now()
		prefixes := []string{"app[eu]:", `a*b?c\d:`, "appe:", "app"}
		for _, prefix := range prefixes {
			l := srv.list(t, redisrevocation.Options{Prefix: prefix})
			s := info("s-"+prefix, "", now)
			require.NoError(t, l.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires)))
		}
		for _, prefix := range prefixes {
			late := srv.list(t, redisrevocation.Options{Prefix: prefix})
			assert.Equal(t, 1, late.Len(), prefix)
			assert.True(t, late.Revoked(ctx, info("s-"+prefix, "", now)), prefix)
		}
		for _, prefix := range []string{"}x", "{x}:", "a{b"} {
			_, err := redisrevocation.New(ctx, srv.driver(t, "", ""), redisrevocation.Options{Prefix: prefix})
			assert.ErrorContains(t, err, "holds a brace", prefix)
		}
	})
}

// TestWaitReplicas: with WaitReplicas, a revocation the primary took but
// no replica has is an error, in force locally and retried, as one Redis
// did not take at all: a failover could lose it. The retries wait for a
// replica without writing the revocation again; once a replica is in
// sync, it is confirmed.
func TestWaitReplicas(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		var logs redistest.Logs
		l := srv.list(t, redisrevocation.Options{WaitReplicas: 1, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		s := info("unreplicated", "", time.Now())
		err := l.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires))
		require.ErrorContains(t, err, "0 of the 1 replicas asked for have the revocation")
		assert.Contains(t, err.Error(), "retrying")
		assert.True(t, l.Revoked(ctx, s))

		c := srv.client(t)
		bucket := func() int64 {
			n, err := c.Do(ctx, c.B().Strlen().Key(defaultKeys.Day(record.DayEnd(s.Expires))).Build()).AsInt64()
			require.NoError(t, err)
			return n
		}
		one := int64(len(record.Append(nil, cookiesession.SessionRevocation(s.ID, s.Expires))))
		time.Sleep(1500 * time.Millisecond) // several retries
		assert.Equal(t, one, bucket(), "written once, not at every retry")
		assert.NotContains(t, logs.String(), "are shared")

		_, port, _ := net.SplitHostPort(srv.Addr)
		k.startRedis(t, "--replicaof", "127.0.0.1", port)
		eventually(t, 15*time.Second, func() bool { return strings.Contains(logs.String(), "revocations that waited for Redis are shared") }, "confirmed by the replica")
		// A primary takes a new replication ID when its first replica
		// attaches, which the list cannot tell from a failover: it writes the
		// revocation again once for each new ID it sees, and then no more.
		confirmed := bucket()
		assert.LessOrEqual(t, confirmed, 4*one)
		time.Sleep(time.Second)
		assert.Equal(t, confirmed, bucket(), "nothing written once confirmed")
	})
}

// TestStalePolicy: once the list has been out of touch for MaxStale, the
// default keeps accepting sessions (and logs it); RejectWhenStale refuses
// them. What the list knew stays rejected either way.
func TestStalePolicy(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx := context.Background()
		var logs redistest.Logs
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		accept := srv.list(t, redisrevocation.Options{MaxStale: 300 * time.Millisecond, Logger: logger})
		reject := srv.list(t, redisrevocation.Options{MaxStale: 300 * time.Millisecond, RejectWhenStale: true})
		now := time.Now()
		known, other := info("known", "", now), info("other", "", now)
		require.NoError(t, accept.Revoke(ctx, cookiesession.SessionRevocation(known.ID, known.Expires)))
		eventually(t, time.Second, func() bool { return reject.Revoked(ctx, known) }, "shared")

		srv.Stop()
		eventually(t, 15*time.Second, func() bool { return accept.Stale() > 0 && reject.Stale() > 0 }, "outage noticed")
		assert.False(t, reject.Revoked(ctx, other), "within MaxStale the copy is trusted")
		eventually(t, 5*time.Second, func() bool { return accept.Stale() > 400*time.Millisecond && reject.Stale() > 400*time.Millisecond }, "stale")
		assert.False(t, accept.Revoked(ctx, other), "default: accept")
		assert.True(t, accept.Revoked(ctx, known))
		assert.True(t, reject.Revoked(ctx, other), "RejectWhenStale: reject")
		assert.Contains(t, logs.String(), "revocation list is stale")
		assert.Equal(t, 1, strings.Count(logs.String(), "revocation list is stale"), "logged once per MaxStale, not per request")
	})
}

// typicalValues is the typical session of the package's own benchmarks
// (bench_test.go): ten values, about 275 bytes of JSON.
var typicalValues = map[string]any{
	"user_id": 918273, "username": "ada.lovelace", "email": "ada.lovelace@example.com",
	"role": "admin", "locale": "en-GB", "theme": "dark", "cart_count": 3,
	"last_login": "2026-11-27T18:04:05Z", "csrf": "q3Z1bXlMb3JlbUlwc3VtRG9sb3JTaXRBbWV0",
	"return_to": "/account/orders?page=2&sort=newest",
}

// redisList returns a List on a redis-server of its own holding 10,000
// revoked sessions and 100 revoked subjects. The list answers from
// memory whatever its client, so the benchmarks that use it run on one.
func redisList(b *testing.B) *redisrevocation.List {
	l := clientKinds[0].startRedis(b).list(b, redisrevocation.Options{})
	ctx, now := context.Background(), time.Now()
	for i := range 10_000 {
		require.NoError(b, l.Revoke(ctx, cookiesession.SessionRevocation(fmt.Sprint("revoked-", i), now.Add(time.Hour))))
		if i%100 == 0 {
			require.NoError(b, l.Revoke(ctx, cookiesession.SubjectRevocation(fmt.Sprint("user-", i), now, now.Add(time.Hour))))
		}
	}
	return l
}

// BenchmarkCycle measures a request cycle (the typical session in the
// default format, with a subject: read one value, change one) with the
// Redis-backed list on, against the same cycle without a list. The list
// answers from memory, so it adds no network round trip and no
// allocation. Needs redis-server, as the tests do.
func BenchmarkCycle(b *testing.B) {
	for _, name := range []string{"no-list", "redis-list"} {
		b.Run(name, func(b *testing.B) {
			var list cookiesession.RevocationList
			if name == "redis-list" {
				list = redisList(b)
			}
			cycle := newCycle(b, list)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				cycle()
			}
		})
	}
}

// BenchmarkCycleRatio is BenchmarkCycle's time with the list over its
// time without, the two taking turns in blocks of 100 requests, so that
// the machine's drift during the run weighs on both alike. Its ns/op is
// that of a pair of blocks; the metrics are per request.
func BenchmarkCycleRatio(b *testing.B) {
	without, with := newCycle(b, nil), newCycle(b, redisList(b))
	var inWithout, inWith time.Duration
	timed := func(cycle func()) time.Duration {
		start := time.Now()
		for range 100 {
			cycle()
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for b.Loop() {
		inWithout += timed(without)
		inWith += timed(with)
	}
	b.ReportMetric(float64(inWith)/float64(inWithout), "ratio")
	b.ReportMetric(float64(inWith.Nanoseconds())/float64(100*b.N), "list-ns/req")
	b.ReportMetric(float64(inWithout.Nanoseconds())/float64(100*b.N), "no-list-ns/req")
}

// newCycle returns one request cycle through a Manager with list (none
// when nil), for a cookie of the typical session with a subject.
func newCycle(b *testing.B, list cookiesession.RevocationList) func() {
	m, err := cookiesession.New(cookiesession.Options{Secrets: testKeys, Revocations: list})
	require.NoError(b, err)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		n, _ := cookiesession.Value[int](s, "cart_count")
		s.Set("cart_count", n+1)
	}))
	s := m.LoadHeader()
	s.SetSubject("user-918273")
	for k, v := range typicalValues {
		s.Set(k, v)
	}
	lines, err := m.SaveHeader(s)
	require.NoError(b, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", strings.SplitN(lines[0], ";", 2)[0])
	w := httptest.NewRecorder()
	return func() {
		clear(w.Header())
		h.ServeHTTP(w, req)
	}
}

// BenchmarkRevoked measures the check itself, for a session that is not
// revoked (the common case).
func BenchmarkRevoked(b *testing.B) {
	l := redisList(b)
	s := info("not-revoked-session-id", "user-7", time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if l.Revoked(ctx, s) {
			b.Fatal("revoked")
		}
	}
}

// TestState: State sums up what Redis holds, by kind, with the bytes, the
// days and the oldest and newest Until, and the revocations that wait for
// Redis; Len counts what a replica holds.
func TestState(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		srv := k.startRedis(t)
		ctx, now := context.Background(), time.Now()
		a, b := srv.list(t, redisrevocation.Options{}), srv.list(t, redisrevocation.Options{Timeout: 200 * time.Millisecond})
		st, err := a.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, redisrevocation.State{}, st, "an empty list")

		require.NoError(t, a.RevokeMany(ctx, []cookiesession.Revocation{
			cookiesession.SessionRevocation("s-1", now.Add(time.Hour)),
			cookiesession.SessionRevocation("s-2", now.Add(3*day)),
			cookiesession.SubjectRevocation("ada", now, now.Add(2*day)),
			cookiesession.AllRevocation(now, now.Add(2*day)),
		}))
		require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation("s-1", now.Add(2*time.Hour))), "a later Until: a second record")
		st, err = b.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, st.Sessions)
		assert.Equal(t, 1, st.Subjects)
		assert.Equal(t, 1, st.Everyone)
		assert.Equal(t, storedBytes(t, srv.client(t)), st.Bytes)
		assert.Equal(t, st.Days, st.Strings)
		assert.GreaterOrEqual(t, st.Days, 3)
		assert.Equal(t, now.Add(time.Hour).UnixMilli(), st.Oldest.UnixMilli())
		assert.Equal(t, now.Add(3*day).UnixMilli(), st.Newest.UnixMilli())
		assert.Zero(t, st.Pending)
		eventually(t, time.Second, func() bool { return b.Len() == 3 }, "two sessions and a subject on the other replica")

		// Without a Redis replica, a revocation waits for one: it is pending.
		c := srv.list(t, redisrevocation.Options{WaitReplicas: 1, Timeout: time.Second})
		require.ErrorContains(t, c.Revoke(ctx, cookiesession.SessionRevocation("waits", now.Add(time.Hour))), "0 of the 1 replicas")
		st, err = c.State(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, st.Pending)
		assert.Equal(t, 1, c.Pending(), "the same count, without reading Redis")
		assert.Zero(t, a.Pending())
		assert.Equal(t, 4, st.Sessions)
	})
}
