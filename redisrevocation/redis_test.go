package redisrevocation

import (
	"context"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// server is a redis-server the test started, with an append-only file in
// a directory of the test's own, on a loopback port.
type server struct {
	t     testing.TB
	addr  string
	dir   string
	extra []string // more arguments, as for a cluster node
	cmd   *exec.Cmd
}

// startRedis starts redis-server (REDIS_SERVER, or the one on PATH), or
// skips the test when there is none, except under CI=true.
func startRedis(t testing.TB, extra ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := &server{t: t, addr: addr, dir: t.TempDir(), extra: extra}
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

// clientAs returns a client of the server's logged in as user, closed
// with the test.
func (s *server) clientAs(t testing.TB, user, password string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      []string{s.addr},
		Username:         user,
		Password:         password,
		ConnWriteTimeout: 2 * time.Second,
		DisableCache:     true,
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// client returns a client of the server's, closed with the test.
func (s *server) client(t testing.TB) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      []string{s.addr},
		ConnWriteTimeout: 2 * time.Second,
		DisableCache:     true,
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// list returns a List on a client of its own, as one replica has.
func (s *server) list(t testing.TB, opts Options) *List {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := New(ctx, s.client(t), opts)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}
