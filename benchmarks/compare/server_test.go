//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession/internal/benchcycle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateSizeIsTheJSONOfItsValues(t *testing.T) {
	for _, s := range []state{{0, ""}, {7, benchcycle.Filler(47)}, {12345, benchcycle.Filler(8000)}} {
		b, err := json.Marshal(map[string]any{"blob": s.Blob, "n": s.N})
		require.NoError(t, err)
		assert.Equal(t, len(b), s.size())
	}
}

// serveImpl serves one implementation's routes on loopback.
func serveImpl(t *testing.T, name, redisAddr, postgresDSN string) string {
	t.Helper()
	api, closeStore, err := newSessionAPI(name, redisAddr, postgresDSN)
	require.NoError(t, err)
	srv := httptest.NewServer(routes(api))
	t.Cleanup(func() {
		srv.Close()
		assert.NoError(t, closeStore())
	})
	return srv.URL
}

// checkSizes grows a session of each size the full plan sweeps, reads it
// back, and checks that a cookie session carries it all in the Cookie
// header and a store only an ID.
func checkSizes(t *testing.T, im impl, base string) {
	ctx := context.Background()
	for _, size := range fullPlan.Sizes {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			var w wire
			c := newClient(&w, 1)
			defer c.close()
			n, got, err := c.do(ctx, http.MethodPost, base+"/grow?size="+strconv.Itoa(size))
			if im.Name == "gorilla-cookiestore" && err != nil {
				// securecookie refuses a cookie over 4096 bytes: never
				// more than about 2 KB of session, and not 8 KB.
				assert.ErrorContains(t, err, "500")
				assert.Greater(t, size, 2048)
				_, _, err = c.do(ctx, http.MethodGet, base+"/read")
				assert.ErrorContains(t, err, "412", "no session was stored")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, [2]int{0, size}, [2]int{n, got}, "grew to the size asked for")

			before := w.read()
			n, got, err = c.do(ctx, http.MethodGet, base+"/read")
			require.NoError(t, err)
			assert.Equal(t, [2]int{0, size}, [2]int{n, got}, "read back at the size asked for")
			cookie := w.read().sub(before).Cookie
			if im.Store == "" {
				assert.Greater(t, cookie, int64(size), "the whole session travels in the Cookie header")
			} else {
				assert.Less(t, cookie, int64(100), "only an ID travels")
			}
			n, got, err = c.do(ctx, http.MethodPost, base+"/incr")
			require.NoError(t, err)
			assert.Equal(t, [2]int{1, size}, [2]int{n, got}, "one digit more stays within the digit the size counted")
		})
	}
}

func TestSizeRouteReachesTheSizeAskedFor(t *testing.T) {
	for _, im := range impls {
		if im.baseline() || im.remote() {
			continue
		}
		t.Run(im.Name, func(t *testing.T) { checkSizes(t, im, serveImpl(t, im.Name, "", "")) })
	}
}

// needs fails the test under CI=true when a program is missing, and
// skips it elsewhere.
func needs(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		_, err := exec.LookPath(p)
		if p == "initdb" || p == "postgres" {
			_, err = postgresProgram(p)
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: .ci/run installs it", p)
			}
			t.Skipf("%s is missing (apt-get install redis-server postgresql)", p)
		}
	}
}

// TestStoresServeTheRoutes starts a redis-server and a PostgreSQL
// cluster, as the comparison does, and checks the stored implementations
// through a delay proxy; and that the stores' CPU is read, PostgreSQL's
// from its backends.
func TestStoresServeTheRoutes(t *testing.T) {
	needs(t, "redis-server", "initdb", "postgres")
	ctx := context.Background()
	dir := t.TempDir()
	redisServer, redisAddr, err := startRedis(ctx, dir)
	require.NoError(t, err)
	defer func() { assert.NoError(t, redisServer.stop(syscall.SIGTERM)) }()
	pg, err := startPostgres(ctx)
	require.NoError(t, err)
	defer func() {
		assert.NoError(t, pg.stop())
		assert.NoDirExists(t, pg.dir)
	}()

	for _, tc := range []struct {
		im       impl
		upstream string
		pids     []int
		children bool
	}{
		{impl{"scs-redis", "redis"}, redisAddr, []int{redisServer.pid()}, false},
		{impl{"scs-postgres", "postgres"}, pg.Addr, []int{pg.pid()}, true},
	} {
		t.Run(tc.im.Name, func(t *testing.T) {
			proxy, err := startDelayProxy(tc.upstream, time.Millisecond)
			require.NoError(t, err)
			defer proxy.stop()
			before, err := readCPU(tc.pids, tc.children)
			require.NoError(t, err)
			checkSizes(t, tc.im, serveImpl(t, tc.im.Name, proxy.Addr, pg.dsn(proxy.Addr)))
			after, err := readCPU(tc.pids, tc.children)
			require.NoError(t, err)
			assert.Positive(t, after.sub(before), "the store worked, and its CPU time was read")
		})
	}
}

// TestReadCPUCountsEveryThread: two goroutines, each on an OS thread of
// its own, spin until their thread has run 30 ms; readCPU counts both.
// Each spins by its thread's CPU time, not by the clock, so that a
// loaded machine, which runs it less, cannot make it spin less.
func TestReadCPUCountsEveryThread(t *testing.T) {
	const spin = 30 * time.Millisecond
	threadCPU := func() (time.Duration, error) {
		b, err := os.ReadFile("/proc/thread-self/schedstat")
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		return time.Duration(ns), err
	}
	_, err := threadCPU()
	require.NoError(t, err, "a thread's CPU time, which the spinning goroutines read")
	before, err := readCPU([]int{os.Getpid()}, false)
	require.NoError(t, err)
	done := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			// Locked, so that the two spin on two threads; unlocked
			// before the goroutine ends, so that its thread lives on to
			// be counted.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start, _ := threadCPU()
			for now, _ := threadCPU(); now-start < spin; now, _ = threadCPU() {
			}
		}()
	}
	<-done
	<-done
	after, err := readCPU([]int{os.Getpid()}, false)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after.sub(before), 2*spin, "readCPU counts both threads")
}

func TestChildrenOf(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	kids, err := childrenOf([]int{os.Getpid()})
	require.NoError(t, err)
	assert.Contains(t, kids, cmd.Process.Pid)
	assert.NotContains(t, kids, os.Getpid())
}

func TestParseAnswer(t *testing.T) {
	n, size, err := parseAnswer([]byte("12 2048\n"))
	require.NoError(t, err)
	assert.Equal(t, [2]int{12, 2048}, [2]int{n, size})
	for _, bad := range []string{"", "12", "12 x", "a 1", "1 2 3"} {
		_, _, err := parseAnswer([]byte(bad))
		assert.Error(t, err, fmt.Sprintf("%q", bad))
	}
}
