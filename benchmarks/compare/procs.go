//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v5"
)

// child is a process the comparison started. It is stopped by its PID,
// and dies with the comparison in any case: the kernel kills it when its
// parent goes (Pdeathsig), even on SIGKILL.
type child struct {
	name   string
	cmd    *exec.Cmd
	done   chan struct{} // closed once Wait has returned
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

// children are the processes started so far, to check that none is left.
var children struct {
	sync.Mutex
	all []*child
}

// start starts cmd as a child named name.
func start(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.Stderr == nil {
		cmd.Stderr = &c.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	children.Lock()
	children.all = append(children.all, c)
	children.Unlock()
	return c, nil
}

// leftRunning returns the processes started and not yet exited.
func leftRunning() []string {
	children.Lock()
	defer children.Unlock()
	var left []string
	for _, c := range children.all {
		if !c.exited() {
			left = append(left, fmt.Sprintf("%s (pid %d)", c.name, c.pid()))
		}
	}
	return left
}

// startedCount returns how many processes were started.
func startedCount() int {
	children.Lock()
	defer children.Unlock()
	return len(children.all)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends sig to the child's PID (after closing its standard input, if
// it reads it), waits up to 10 seconds, then kills it.
func (c *child) stop(sig syscall.Signal) error {
	if c.stdin != nil {
		c.stdin.Close()
	}
	select {
	case <-c.done:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s (pid %d): %w", c.name, c.pid(), err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s (pid %d) did not stop within 10 s and was killed", c.name, c.pid())
	}
}

// exited reports whether the child has exited and been waited for.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// pinned returns cmd run by taskset on the given CPU, or cmd itself when
// cpu is negative.
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if cpu < 0 {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor calls ready every 50 ms until it succeeds or timeout passes.
func waitFor(ctx context.Context, c *child, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited: %s", c.name, strings.TrimSpace(c.stderr.String()))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready after %s: %w", c.name, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// server is a running server process and where it listens.
type server struct {
	*child
	// Base is the URL of its plain HTTP/1.1 listener.
	Base string
	// TLS maps each endpoint's name to its address.
	TLS map[string]string
}

// startServer starts the server process of one implementation on the
// given CPU: this binary again, as `compare serve`.
func startServer(cpu int, name, redisAddr, postgresDSN string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := pinned(cpu, self, "serve", "-impl", name, "-redis", redisAddr, "-postgres", postgresDSN)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c, err := start("server "+name, cmd)
	if err != nil {
		return nil, err
	}
	c.stdin = stdin
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addrs := strings.Fields(line)
	if err == nil && len(addrs) != 1+len(endpoints) {
		err = fmt.Errorf("addresses %q, not one plain and %d TLS", line, len(endpoints))
	}
	if err != nil {
		_ = c.stop(syscall.SIGKILL)
		return nil, fmt.Errorf("server %s: %w: %s", name, err, c.stderr.String())
	}
	s := &server{child: c, Base: "http://" + addrs[0], TLS: map[string]string{}}
	for i, e := range endpoints {
		s.TLS[e.Name] = addrs[1+i]
	}
	return s, nil
}

// startRedis starts a throw-away redis-server on loopback, without
// persistence.
func startRedis(ctx context.Context, dir string) (*child, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	c, err := start("redis-server", exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--loglevel", "warning"))
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	err = waitFor(ctx, c, 10*time.Second, func() error {
		conn, err := redis.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Do("PING")
		return err
	})
	if err != nil {
		_ = c.stop(syscall.SIGKILL)
		return nil, "", err
	}
	return c, addr, nil
}

// postgresProgram finds one of PostgreSQL's programs: on PATH, or where
// Debian's postgresql package keeps them, off PATH.
func postgresProgram(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(found) == 0 {
		return "", fmt.Errorf("%s is not on PATH nor in /usr/lib/postgresql/*/bin (apt-get install postgresql)", name)
	}
	slices.Sort(found) // the newest version last, while versions have two digits
	return found[len(found)-1], nil
}

// postgres is a throw-away PostgreSQL cluster in a temporary directory.
type postgres struct {
	*child
	dir  string
	Addr string // host:port on loopback
}

// dsn is the data source for addr, the cluster's or its delay proxy's.
func (postgres) dsn(addr string) string {
	return "postgres://postgres@" + addr + "/postgres?sslmode=disable"
}

// startPostgres makes a cluster with initdb and runs postgres on a
// loopback port, with the table scs's postgresstore uses. PostgreSQL
// refuses to run as root, so as root both run as the postgres user, in a
// directory it owns. The cluster does not wait for the disk (fsync and
// synchronous_commit off): the comparison is of the network and CPU, not
// of this machine's disk.
func startPostgres(ctx context.Context) (*postgres, error) {
	initdb, err := postgresProgram("initdb")
	if err != nil {
		return nil, err
	}
	server, err := postgresProgram("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "compare-postgres-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PostgreSQL does not run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	asPostgres := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := asPostgres(exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c, err := start("postgres", asPostgres(exec.Command(server, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	pg := &postgres{child: c, dir: dir, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	err = waitFor(ctx, c, 30*time.Second, func() error {
		conn, err := pgx.Connect(ctx, pg.dsn(pg.Addr))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		// The table of scs's postgresstore README.
		_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
			CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`)
		return err
	})
	if err != nil {
		pg.stop()
		return nil, err
	}
	return pg, nil
}

// stop shuts the cluster down by the postmaster's PID (SIGINT is
// PostgreSQL's fast shutdown) and removes its directory.
func (pg *postgres) stop() error {
	err := pg.child.stop(syscall.SIGINT)
	return errors.Join(err, os.RemoveAll(pg.dir))
}

// cpuTimes maps the PIDs of processes to the CPU time, user and system,
// each has used so far.
type cpuTimes map[int]time.Duration

// sub returns the CPU time used between before and t: a process that
// started between the two counts from zero, one that ended is lost.
func (t cpuTimes) sub(before cpuTimes) time.Duration {
	var d time.Duration
	for pid, used := range t {
		d += used - before[pid]
	}
	return d
}

// readCPU returns the CPU time of each process in pids and, with
// children, of their child processes (PostgreSQL's backends). It sums the
// scheduler's nanosecond counts of each of a process's threads
// (/proc/PID/task/TID/schedstat, the first field), where utime and stime
// in /proc/PID/stat count 10 ms ticks.
func readCPU(pids []int, children bool) (cpuTimes, error) {
	if children {
		kids, err := childrenOf(pids)
		if err != nil {
			return nil, err
		}
		pids = append(pids, kids...)
	}
	t := cpuTimes{}
	for _, pid := range pids {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		if err != nil {
			return nil, err
		}
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue // the thread ended
			}
			ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", task, err)
			}
			t[pid] += time.Duration(ns)
		}
	}
	return t, nil
}

// childrenOf returns the PIDs of the processes whose parent is in pids.
func childrenOf(pids []int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		_, rest, ok := bytes.Cut(b[bytes.LastIndexByte(b, ')')+1:], []byte(" "))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		for _, p := range pids {
			if ppid == p {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
				kids = append(kids, pid)
			}
		}
	}
	return kids, nil
}
