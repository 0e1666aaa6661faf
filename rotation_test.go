package cookiesession

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mountedSecret writes secrets the way Kubernetes updates a mounted
// Secret: into a new directory, then an atomic rename of the ..data link
// to it; the file the application reads is a link through ..data.
type mountedSecret struct {
	t       *testing.T
	dir     string
	version int
}

func newMountedSecret(t *testing.T, secrets ...[]byte) (*mountedSecret, string) {
	s := &mountedSecret{t: t, dir: t.TempDir()}
	s.write(secrets...)
	path := filepath.Join(s.dir, "secrets")
	require.NoError(t, os.Symlink(filepath.Join("..data", "secrets"), path))
	return s, path
}

func (s *mountedSecret) write(secrets ...[]byte) {
	s.version++
	version := fmt.Sprintf("..2026_12_01_%03d", s.version)
	require.NoError(s.t, os.Mkdir(filepath.Join(s.dir, version), 0o755))
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, version, "secrets"), bytes.Join(secrets, []byte("\n")), 0o600))
	tmp := filepath.Join(s.dir, "..data_tmp")
	require.NoError(s.t, os.Symlink(version, tmp))
	require.NoError(s.t, os.Rename(tmp, filepath.Join(s.dir, "..data")))
}

// TestRotationThroughAFileUnderLoad: secrets rotate A → [B, A] → B through
// a mounted file while clients, each with its own cookie jar, keep making
// requests. No request gets a new session because of the rotation, every
// cookie issued after B took over is sealed with B, and the counts show
// A's share falling to nothing.
func TestRotationThroughAFileUnderLoad(t *testing.T) {
	a, b := testKey(1), testKey(2)
	var logs syncBuffer
	m, err := New(Options{Secrets: [][]byte{a}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	mount, path := newMountedSecret(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() { watched <- m.WatchSecretsFile(ctx, path, 5*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-watched })

	srv := counterServer(t, m)

	const clients = 8
	var stop atomic.Bool
	var requests, resets atomic.Int64
	var wg sync.WaitGroup
	jars := make([]http.CookieJar, clients)
	for i := range clients {
		jars[i] = newLocalJar()
		c := &http.Client{Jar: jars[i], Timeout: 5 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := 1; !stop.Load() && want < 10_000; want++ {
				resp, err := c.Get(srv.URL)
				if !assert.NoError(t, err) {
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				if got, _ := strconv.Atoi(string(body)); got != want {
					resets.Add(1) // a new session: the counter started again
					want = got
				}
			}
		}()
	}
	fingerprints := func() []string {
		var fps []string
		for _, s := range m.Counts().Secrets {
			fps = append(fps, s.Fingerprint)
		}
		return fps
	}
	waitFor := func(want ...[]byte) {
		var fps []string
		for _, s := range want {
			fps = append(fps, SecretFingerprint(s))
		}
		require.Eventually(t, func() bool { return assert.ObjectsAreEqual(fps, fingerprints()) }, 5*time.Second, time.Millisecond)
	}
	verifiedBy := func(secret []byte) uint64 {
		for _, s := range m.Counts().Secrets {
			if s.Fingerprint == SecretFingerprint(secret) {
				return s.Verified
			}
		}
		return 0
	}

	time.Sleep(300 * time.Millisecond)
	mount.write(b, a) // add B and promote it at once: fine here, with one process and one file
	waitFor(b, a)
	aBefore := verifiedBy(a)
	time.Sleep(400 * time.Millisecond)
	aDuring := verifiedBy(a) - aBefore
	bDuring := verifiedBy(b)
	mount.write(b)
	waitFor(b)
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	t.Logf("%d requests by %d clients; A verified %d before B took over and %d after (B: %d)", requests.Load(), clients, aBefore, aDuring, bDuring)
	assert.Zero(t, resets.Load(), "no request got a new session because of the rotation")
	assert.Greater(t, aBefore, uint64(clients), "A verified the cookies it sealed")
	assert.LessOrEqual(t, aDuring, uint64(clients), "once B seals, A verifies each client's cookie at most once, when it is re-issued")
	assert.Greater(t, bDuring, 10*aDuring, "B verifies the rest")
	onlyB, err := New(Options{Secrets: [][]byte{b}})
	require.NoError(t, err)
	u, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	for i, jar := range jars {
		var header []string
		for _, c := range jar.Cookies(u.URL) {
			header = append(header, c.Name+"="+c.Value)
		}
		_, err := onlyB.Inspect(header...)
		assert.NoError(t, err, "client %d's cookie is sealed with B", i)
	}
	assert.Contains(t, logs.String(), "the new first secret was not in force before", "A → [B, A] in one step: fine for one process, not for a fleet")
	assert.Contains(t, logs.String(), "secrets in force")
	assert.Contains(t, logs.String(), SecretFingerprint(b))
}

// TestWatchSecretsFileKeepsGoodSecrets: a secrets file that goes missing,
// empty or invalid never replaces the secrets in force; each failure is
// logged once.
func TestWatchSecretsFileKeepsGoodSecrets(t *testing.T) {
	a := testKey(1)
	var logs syncBuffer
	m, err := New(Options{Secrets: [][]byte{a}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, a, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.WatchSecretsFile(ctx, path, 2*time.Millisecond) }()
	logged := func(want string) {
		t.Helper()
		require.Eventually(t, func() bool { return bytes.Contains([]byte(logs.String()), []byte(want)) }, 5*time.Second, time.Millisecond, want)
	}
	logged("secrets in force")
	for bad, want := range map[string]string{"": "holds no secret", "short": "secret 0 is 5 bytes", "k1 k2-with-a-space-inside-0123456789abcdef": "holds white space"} {
		// Written aside and renamed, so no read sees it half written.
		require.NoError(t, os.WriteFile(path+".tmp", []byte(bad), 0o600))
		require.NoError(t, os.Rename(path+".tmp", path))
		logged(want)
		assert.Equal(t, SecretFingerprint(a), m.Counts().Secrets[0].Fingerprint, "%q replaced nothing", bad)
	}
	require.NoError(t, os.Remove(path))
	logged("no such file")
	assert.Equal(t, SecretFingerprint(a), m.Counts().Secrets[0].Fingerprint, "a missing file replaced nothing")
	time.Sleep(20 * time.Millisecond) // more reads of the same failure
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	out := logs.String()
	for _, want := range []string{"holds no secret", "secret 0 is 5 bytes", "holds white space", "no such file"} {
		assert.Equal(t, 1, bytes.Count([]byte(out), []byte(want)), "%q logged once: %s", want, out)
	}
	assert.NotContains(t, out, "k1 k2", "never the secret")
}

// syncBuffer is a log destination safe for a watcher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
