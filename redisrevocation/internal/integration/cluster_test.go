package integration

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cluster is a Redis Cluster the test started: three primaries, each with
// a replica, on loopback ports, each node with an append-only file.
type cluster struct {
	t     *testing.T
	kind  clientKind
	nodes []*server
}

// startCluster starts six nodes and joins them with redis-cli --cluster
// create, and returns once every slot is served and every replica is in
// sync. A node fails over after a second without its primary.
func (k clientKind) startCluster(t *testing.T) *cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		redistest.Binary(t) // skips, or fails under CI, as for redis-server
		t.Fatal("redis-cli is missing")
	}
	c := &cluster{t: t, kind: k}
	var addrs []string
	for range 6 {
		n := k.startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000")
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.Addr)
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	c.waitHealthy(30 * time.Second)
	return c
}

// do runs a command on one node, not through the cluster's routing, and
// returns its reply as text.
func (c *cluster) do(n *server, args ...string) (string, error) {
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{n.Addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reply, err := cl.Do(ctx, cl.B().Arbitrary(args...).Build()).ToAny()
	return fmt.Sprint(reply), err
}

// waitHealthy waits until every running node sees every slot served, and
// every running replica is in sync with its primary.
func (c *cluster) waitHealthy(d time.Duration) {
	c.t.Helper()
	eventually(c.t, d, func() bool {
		for _, n := range c.nodes {
			if n.Cmd == nil {
				continue
			}
			info, err := c.do(n, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			repl, err := c.do(n, "INFO", "replication")
			if err != nil || strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return false
			}
		}
		return true
	}, "cluster healthy")
}

// primaryOf returns the node that serves key's slot.
func (c *cluster) primaryOf(key string) *server {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.Cmd == nil {
			continue
		}
		repl, err := c.do(n, "INFO", "replication")
		require.NoError(c.t, err)
		if !strings.Contains(repl, "role:master") {
			continue
		}
		// A primary answers for its own slots, and redirects the others.
		if _, err := c.do(n, "EXISTS", key); err == nil {
			return n
		}
	}
	c.t.Fatalf("no primary serves %s", key)
	return nil
}

// driver returns a driver on a cluster client of its own, closed with the test.
func (c *cluster) driver() driver.Client {
	c.t.Helper()
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.Addr)
	}
	return c.kind.cluster(c.t, addrs)
}

// list returns a List on a cluster client of its own, as one replica has.
func (c *cluster) list(opts redisrevocation.Options) *redisrevocation.List {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := redisrevocation.New(ctx, c.driver(), opts)
	require.NoError(c.t, err)
	c.t.Cleanup(l.Close)
	return l
}

// TestCluster: on a Redis Cluster of three primaries with a replica each,
// revocations reach the other replicas of the service within 100 ms at
// p99 and a replica started later; then the primary holding the list is
// killed. Revocations made during the failover are in force where they
// were made at once and everywhere once a replica has taken over;
// nothing that Revoke reported shared is lost; and the killed node,
// restarted, rejoins without taking anything away.
func TestCluster(t *testing.T) {
	eachClient(t, func(t *testing.T, k clientKind) {
		c := k.startCluster(t)
		ctx := context.Background()
		opts := redisrevocation.Options{WaitReplicas: 1, Timeout: time.Second}
		var lists [3]*redisrevocation.List
		for i := range lists {
			lists[i] = c.list(opts)
		}
		now := time.Now()

		shared := propagate(t, lists[:], "cluster", 60) // Revoke reported them shared
		require.NoError(t, lists[0].Revoke(ctx, cookiesession.SubjectRevocation("ada", now, now.Add(time.Hour))))
		late := c.list(redisrevocation.Options{})
		for _, s := range shared {
			require.True(t, late.Revoked(ctx, s), "late replica: %s", s.ID)
		}
		assert.True(t, late.Revoked(ctx, info("any", "ada", now.Add(-time.Minute))))

		// Kill the primary holding the list, with revocations being made.
		primary := c.primaryOf(defaultKeys.Index)
		require.NoError(t, syscall.Kill(-primary.Cmd.Process.Pid, syscall.SIGKILL))
		killed := time.Now()
		_ = primary.Cmd.Wait()
		primary.Cmd = nil
		var during []cookiesession.SessionInfo
		for i := range 20 {
			s := info(fmt.Sprintf("failover-%02d", i), "", now)
			// An error says the revocation waits for Redis; it is in force here.
			_ = lists[i%3].Revoke(ctx, cookiesession.SessionRevocation(s.ID, s.Expires))
			require.True(t, lists[i%3].Revoked(ctx, s))
			during = append(during, s)
			time.Sleep(50 * time.Millisecond)
		}
		c.waitHealthy(30 * time.Second)
		tookOver := time.Now()
		for _, s := range append(slices.Clone(shared), during...) {
			for _, l := range lists {
				eventually(t, 15*time.Second, func() bool { return l.Revoked(ctx, s) }, "after the failover: "+s.ID)
			}
		}
		t.Logf("a replica took over %v after the kill; every revocation made during the failover was on every list %v later",
			tookOver.Sub(killed).Round(time.Millisecond), time.Since(tookOver).Round(time.Millisecond))
		afterFailover := c.list(redisrevocation.Options{})
		for _, s := range append(slices.Clone(shared), during...) {
			assert.True(t, afterFailover.Revoked(ctx, s), "nothing lost in the failover: %s", s.ID)
		}

		// The old primary comes back, as a replica of the new one.
		primary.Restart()
		c.waitHealthy(30 * time.Second)
		restarted := c.list(redisrevocation.Options{})
		for _, s := range append(slices.Clone(shared), during...) {
			assert.True(t, restarted.Revoked(ctx, s), "after the old primary rejoined: %s", s.ID)
		}
		for _, l := range lists {
			eventually(t, 15*time.Second, func() bool { return l.Stale() == 0 }, "every list current")
		}
	})
}
