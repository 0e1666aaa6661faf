package redisrevocation

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/cookiesession/cookiesession/redisrevocation/rueidisdriver"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// clientKind is one client library the list runs on: the tests that need
// Redis run once with each (see eachClient).
type clientKind struct {
	name string
	// open returns a driver on a client of its own for one server, as
	// user when not empty, and what closes the client. sentinel and
	// cluster return one on a client closed with the test, for a
	// Sentinel's primary and a Cluster.
	open     func(addr, user, password string) (driver.Client, func())
	sentinel func(t testing.TB, sentinel, master string) driver.Client
	cluster  func(t testing.TB, addrs []string) driver.Client
}

var clientKinds = []clientKind{
	{
		name: "rueidis",
		open: func(addr, user, password string) (driver.Client, func()) {
			c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, Username: user, Password: password,
				ConnWriteTimeout: 2 * time.Second, DisableCache: true})
			if err != nil {
				panic(err) // only for a bad option: it does not dial
			}
			return rueidisdriver.New(c), c.Close
		},
		sentinel: func(t testing.TB, sentinel, master string) driver.Client {
			return rueidisdriver.New(rueidisClient(t, rueidis.ClientOption{InitAddress: []string{sentinel}, Sentinel: rueidis.SentinelOption{MasterSet: master}}))
		},
		cluster: func(t testing.TB, addrs []string) driver.Client {
			return rueidisdriver.New(rueidisClient(t, rueidis.ClientOption{InitAddress: addrs}))
		},
	},
	{
		name: "goredis",
		open: func(addr, user, password string) (driver.Client, func()) {
			c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password, WriteTimeout: 2 * time.Second})
			return goredisdriver.New(c), func() { c.Close() }
		},
		sentinel: func(t testing.TB, sentinel, master string) driver.Client {
			c := redis.NewFailoverClient(&redis.FailoverOptions{SentinelAddrs: []string{sentinel}, MasterName: master, WriteTimeout: 2 * time.Second})
			t.Cleanup(func() { c.Close() })
			return goredisdriver.New(c)
		},
		cluster: func(t testing.TB, addrs []string) driver.Client {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, WriteTimeout: 2 * time.Second})
			t.Cleanup(func() { c.Close() })
			return goredisdriver.New(c)
		},
	},
}

// rueidisClient is a rueidis client with opt, closed with the test.
func rueidisClient(t testing.TB, opt rueidis.ClientOption) rueidis.Client {
	t.Helper()
	opt.ConnWriteTimeout, opt.DisableCache = 2*time.Second, true
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// eachClient runs f as a subtest for each client library, or only for
// those REDISREVOCATION_CLIENTS names (comma-separated), when set.
func eachClient[T interface {
	testing.TB
	Run(string, func(T)) bool
}](t T, f func(t T, k clientKind)) {
	only := os.Getenv("REDISREVOCATION_CLIENTS")
	for _, k := range clientKinds {
		if only == "" || slices.Contains(strings.Split(only, ","), k.name) {
			t.Run(k.name, func(t T) { f(t, k) })
		}
	}
}

// server is a redis-server the test started, with an append-only file in
// a directory of the test's own, on a loopback port.
type server struct {
	t     testing.TB
	kind  clientKind // the client library of the lists on it
	addr  string
	dir   string
	extra []string // more arguments, as for a cluster node
	cmd   *exec.Cmd
}

// startRedis starts redis-server (REDIS_SERVER, or the one on PATH), or
// skips the test when there is none, except under CI=true.
func (k clientKind) startRedis(t testing.TB, extra ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, kind: k, addr: addr, dir: t.TempDir(), extra: extra}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// redisBinary is REDIS_SERVER, or the redis-server on PATH; without one
// the test is skipped, except under CI=true.
func redisBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin, _ = exec.LookPath("redis-server")
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is missing (apt-get install redis-server)")
		}
		t.Skip("redis-server is missing (apt-get install redis-server)")
	}
	return bin
}

func (s *server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"}, s.extra...)
	s.cmd = exec.Command(redisBinary(s.t), args...)
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(s.t, s.cmd.Start())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		require.True(s.t, time.Now().Before(deadline), "redis-server did not start")
	}
}

// stop ends the server by its PID and waits for it.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

func (s *server) restart() { s.start() }

// kill ends the server with SIGKILL, as a crash would: nothing is flushed.
func (s *server) kill() {
	s.t.Helper()
	require.NoError(s.t, syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL))
	_ = s.cmd.Wait()
	s.cmd = nil
}

// client returns a rueidis client of the server's, closed with the test,
// to look at and prepare what the lists under test find in Redis.
func (s *server) client(t testing.TB) rueidis.Client {
	t.Helper()
	return rueidisClient(t, rueidis.ClientOption{InitAddress: []string{s.addr}})
}

// driver returns a driver on a client of the server's kind, closed with
// the test, logged in as user when one is given.
func (s *server) driver(t testing.TB, user, password string) driver.Client {
	t.Helper()
	d, closeClient := s.kind.open(s.addr, user, password)
	t.Cleanup(closeClient)
	return d
}

// list returns a List on a client of its own, as one replica has.
func (s *server) list(t testing.TB, opts Options) *List {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := New(ctx, s.driver(t, "", ""), opts)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}
