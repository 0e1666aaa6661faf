package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startSentinel starts a Sentinel watching primary as "revocations",
// with a quorum of one, that fails over after a second without it; it is
// stopped by its PID with the test.
func startSentinel(t *testing.T, primary *server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	_, primaryPort, _ := net.SplitHostPort(primary.Addr)
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`bind 127.0.0.1
port %s
sentinel monitor revocations 127.0.0.1 %s 1
sentinel down-after-milliseconds revocations 1000
sentinel failover-timeout revocations 5000
`, port, primaryPort)), 0o600))
	cmd := exec.Command(redistest.Binary(t), conf, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	eventually(t, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "sentinel up")
	return addr
}

// TestSentinel: a primary with one replica under Sentinel. With
// WaitReplicas 1, the primary is killed: revocations made meanwhile are
// in force where they were made at once and everywhere once Sentinel has
// promoted the replica, nothing Revoke reported shared is lost, and the
// old primary, restarted, becomes a replica without taking anything away.
func TestSentinel(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		primary := k.startRedis(t)
		_, primaryPort, _ := net.SplitHostPort(primary.Addr)
		replica := k.startRedis(t, "--replicaof", "127.0.0.1", primaryPort)
		sentinel := startSentinel(t, primary)
		ctx := context.Background()
		list := func(opts redisrevocation.Options) *redisrevocation.List {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			l, err := redisrevocation.New(ctx, k.sentinel(t, sentinel, "revocations"), opts)
			require.NoError(t, err)
			t.Cleanup(l.Close)
			return l
		}
		replicated := func() bool {
			c := primary.client(t)
			s, err := c.Do(ctx, c.B().Info().Section("replication").Build()).ToString()
			return err == nil && strings.Contains(s, "state=online")
		}
		eventually(t, 10*time.Second, replicated, "replica in sync")

		var logs redistest.Logs
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("what the list writing during the failover logged:\n%s", logs.String())
			}
		})
		// a writes while the primary is up: its WAIT gets a second, which a
		// loaded machine needs; b writes during the failover.
		a := list(redisrevocation.Options{WaitReplicas: 1, Timeout: 2 * time.Second})
		opts := redisrevocation.Options{WaitReplicas: 1, Timeout: time.Second}
		opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		b := list(opts)
		now := time.Now()
		var all []cookiesession.SessionInfo
		for i := range 20 {
			s := info(fmt.Sprintf("before-%02d", i), "", now)
			require.NoError(t, a.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires)), "on the replica too")
			all = append(all, s)
		}

		require.NoError(t, syscall.Kill(-primary.Cmd.Process.Pid, syscall.SIGKILL))
		killed := time.Now()
		_ = primary.Cmd.Wait()
		primary.Cmd = nil
		for i := range 20 {
			s := info(fmt.Sprintf("during-%02d", i), "", now)
			_ = b.Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires)) // an error: it waits for Redis
			require.True(t, b.Revoked(ctx, s))
			all = append(all, s)
			time.Sleep(100 * time.Millisecond)
		}
		// About 3 s after the loop with rueidis and at its end with go-redis
		// on a quiet machine (see the results); the bound is for a loaded
		// one: a CI run with the machine busy once took over 20 s.
		for _, s := range all {
			eventually(t, 45*time.Second, func() bool { return a.Revoked(ctx, s) && b.Revoked(ctx, s) }, "after the failover: "+s.ID)
		}
		t.Logf("every revocation on both lists %v after the kill", time.Since(killed).Round(time.Millisecond))
		promoted := replica.client(t)
		role, err := promoted.Do(ctx, promoted.B().Role().Build()).ToArray()
		require.NoError(t, err)
		first, _ := role[0].ToString()
		assert.Equal(t, "master", first, "Sentinel promoted the replica")
		late := list(redisrevocation.Options{})
		for _, s := range all {
			assert.True(t, late.Revoked(ctx, s), "nothing lost: %s", s.ID)
		}

		// The old primary comes back; Sentinel makes it a replica of the new.
		primary.Restart()
		eventually(t, 30*time.Second, func() bool {
			return strings.Contains(logs.String(), "revocations that waited for Redis are shared")
		}, "what waited for a replica is on one")
		for _, s := range all {
			assert.True(t, list(redisrevocation.Options{}).Revoked(ctx, s), "after the old primary came back: %s", s.ID)
		}
	})
}
