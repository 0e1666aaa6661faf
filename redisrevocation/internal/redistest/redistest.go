// Package redistest starts redis-server for the tests of the
// redisrevocation modules: on a loopback port, with an append-only file in
// a directory of the test's own, stopped by its PID with the test. Logs
// holds what the lists under test log.
package redistest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Server is a redis-server a test started. Cmd is nil while it is down.
type Server struct {
	Addr  string
	Dir   string
	Cmd   *exec.Cmd
	t     testing.TB
	extra []string // more arguments, as for a cluster node
}

// Start starts redis-server (REDIS_SERVER, or the one on PATH) with
// extra arguments, or skips the test when there is none, except under
// CI=true.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{t: t, Addr: addr, Dir: t.TempDir(), extra: extra}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Binary is REDIS_SERVER, or the redis-server on PATH; without one the
// test is skipped, except under CI=true.
func Binary(t testing.TB) string {
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

// Restart starts the server again, on its address and with its files,
// and returns once it accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--dir", s.Dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"}, s.extra...)
	s.Cmd = exec.Command(Binary(s.t), args...)
	s.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(s.t, s.Cmd.Start())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return
		}
		require.True(s.t, time.Now().Before(deadline), "redis-server did not start")
	}
}

// Stop ends the server by its PID and waits for it.
func (s *Server) Stop() {
	if s.Cmd == nil || s.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.Cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.Cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.Cmd = nil
}

// Kill ends the server with SIGKILL, as a crash would: nothing is flushed.
func (s *Server) Kill() {
	s.t.Helper()
	require.NoError(s.t, syscall.Kill(-s.Cmd.Process.Pid, syscall.SIGKILL))
	_ = s.Cmd.Wait()
	s.Cmd = nil
}

// Logs is a log destination safe for the goroutines of the lists under
// test: slog.New(slog.NewTextHandler(&logs, nil)).
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write adds a line the lists logged.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
