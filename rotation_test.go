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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession/internal/localjar"
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
		jars[i] = localjar.New()
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

// watchLog starts m's watcher on path, with its logs in a buffer, and
// returns a function that waits until the logs hold want.
func watchLog(t *testing.T, secrets [][]byte, format Format, path string) (*Manager, *syncBuffer, func(want string)) {
	t.Helper()
	var logs syncBuffer
	m, err := New(Options{Secrets: secrets, Format: format, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.WatchSecretsFile(ctx, path, 5*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	logged := func(want string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), want) }, 5*time.Second, time.Millisecond, "%q in %s", want, &logs)
	}
	return m, &logs, logged
}

func firstFingerprints(m *Manager) []string {
	var fps []string
	for _, s := range m.Counts().Secrets {
		fps = append(fps, s.Fingerprint)
	}
	return fps
}

// TestWatchSecretsFileNeverUsesAHalfWrittenFile: "new, old" written in
// place by a writer that pauses after the first line, far longer than
// the watcher waits for a file to settle. The half written file would
// drop the secret now sealing for one not in force, so it is refused;
// cookies sealed with the old secret keep working throughout, and the
// whole file is put in force once written.
func TestWatchSecretsFileNeverUsesAHalfWrittenFile(t *testing.T) {
	oldSecret, newSecret := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, append(oldSecret, '\n'), 0o600))
	m, _, logged := watchLog(t, [][]byte{oldSecret}, FormatSecureCookie, path)
	logged("secrets in force")
	s := m.LoadHeader()
	s.Set("user", "ada")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	cookie, _, _ := strings.Cut(lines[0], ";")

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	require.NoError(t, err)
	_, err = f.Write(append(newSecret, '\n'))
	require.NoError(t, err)
	logged("drops the secret now sealing")
	for range 20 { // the writer pauses: 100 ms, twenty intervals
		assert.Equal(t, []string{SecretFingerprint(oldSecret)}, firstFingerprints(m), "the half written file is not in force")
		_, err := m.Inspect(cookie)
		assert.NoError(t, err, "the old secret's cookies still verify")
		time.Sleep(5 * time.Millisecond)
	}
	_, err = f.Write(append(oldSecret, '\n'))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	logged("secrets file usable again")
	assert.Equal(t, []string{SecretFingerprint(newSecret), SecretFingerprint(oldSecret)}, firstFingerprints(m))
	_, err = m.Inspect(cookie)
	assert.NoError(t, err)
}

// sealedCookie returns a cookie (NAME=VALUE) of a session m seals now.
func sealedCookie(t *testing.T, m *Manager) string {
	t.Helper()
	s := m.LoadHeader()
	s.Set("user", "ada")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	cookie, _, _ := strings.Cut(lines[0], ";")
	return cookie
}

// secretsText is a secrets file listing secrets, one a line.
func secretsText(secrets ...[]byte) string {
	return string(bytes.Join(secrets, []byte("\n"))) + "\n"
}

// TestWatchSecretsFileRotationSteps walks the rotation of
// docs/rotation.md through the watcher, each step written in place by a
// writer that pauses after the first line: a cookie sealed before the step
// keeps verifying while the file is half written, and the step is in force
// once written. Every prefix of each step's file, as a watcher could read
// it, is refused or keeps the secret sealing in force: a promotion caught
// after its first line would otherwise drop it and log out everyone it
// sealed for.
func TestWatchSecretsFileRotationSteps(t *testing.T) {
	current, next := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, []byte(secretsText(current)), 0o600))
	m, logs, logged := watchLog(t, [][]byte{current}, FormatSecureCookie, path)
	logged("secrets in force")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	inForce := [][]byte{current}
	for _, step := range []struct {
		name    string
		secrets [][]byte
		refused bool // its first line alone drops the secret sealing
	}{
		{"add the new secret behind the current one", [][]byte{current, next}, false},
		{"promote it", [][]byte{next, current}, true},
		{"remove the old secret", [][]byte{next}, false},
	} {
		sealing := SecretFingerprint(inForce[0])
		text := secretsText(step.secrets...)
		for i := range len(text) {
			other, err := New(Options{Secrets: inForce, Logger: quiet})
			require.NoError(t, err)
			if other.replaceFrom([]byte(text[:i]), path) == nil {
				assert.Contains(t, firstFingerprints(other), sealing, "%s: %d of %d bytes put in force without the secret sealing", step.name, i, len(text))
			}
		}

		cookie := sealedCookie(t, m)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
		require.NoError(t, err)
		first, rest, _ := strings.Cut(text, "\n")
		_, err = f.WriteString(first + "\n")
		require.NoError(t, err)
		if step.refused {
			logged("drops the secret now sealing (" + sealing + ")")
		}
		for range 20 { // the writer pauses: 100 ms, twenty intervals
			_, err := m.Inspect(cookie)
			assert.NoError(t, err, "%s: a cookie sealed before the step verifies while the file is half written", step.name)
			time.Sleep(5 * time.Millisecond)
		}
		_, err = f.WriteString(rest)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		var want []string
		for _, k := range step.secrets {
			want = append(want, SecretFingerprint(k))
		}
		require.Eventually(t, func() bool { return slices.Equal(want, firstFingerprints(m)) }, 5*time.Second, time.Millisecond, "%s: in force once written", step.name)
		_, err = m.Inspect(cookie)
		assert.NoError(t, err, "%s: the cookie sealed before it still verifies", step.name)
		inForce = step.secrets
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "drops the secret now sealing"), "only the promotion's first line drops it: %s", logs)
}

// TestWatchSecretsFileEmergencyReplacement: replacing every secret at once
// (one leaked) is refused until the file says it is meant in its last
// line, and then made and logged as a warning that it logs everyone out.
// A file cut short never carries that line, and while it stays in the
// file, each change is warned about.
func TestWatchSecretsFileEmergencyReplacement(t *testing.T) {
	leaked, fresh := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "secrets")
	replace := func(content string) {
		require.NoError(t, os.WriteFile(path+".tmp", []byte(content), 0o600))
		require.NoError(t, os.Rename(path+".tmp", path))
	}
	replace(string(leaked))
	m, logs, logged := watchLog(t, [][]byte{leaked}, FormatSecureCookie, path)
	logged("secrets in force")
	replace(string(fresh) + "\n")
	logged("drops the secret now sealing (" + SecretFingerprint(leaked) + ")")
	assert.Equal(t, []string{SecretFingerprint(leaked)}, firstFingerprints(m))

	// The line first: a file cut short inside the secret would carry it.
	replace(replaceAllLine + "\n" + string(fresh) + "\n")
	logged("is not its last")
	assert.Equal(t, []string{SecretFingerprint(leaked)}, firstFingerprints(m))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, text := range []string{
		replaceAllLine + "\n" + string(fresh[:36]),                    // the line first, the secret cut short
		secretsText(fresh[:36]),                                       // the line last, cut off with the rest
		string(fresh) + "\n" + replaceAllLine[:len(replaceAllLine)-1], // the line itself cut short
	} {
		other, err := New(Options{Secrets: [][]byte{leaked}, Logger: quiet})
		require.NoError(t, err)
		assert.Error(t, other.replaceFrom([]byte(text), path), "%q", text)
		assert.Equal(t, []string{SecretFingerprint(leaked)}, firstFingerprints(other), "%q", text)
	}

	replace(string(fresh) + "\n" + replaceAllLine + "\n")
	logged("the secret sealing was dropped, as the file asks")
	assert.Equal(t, []string{SecretFingerprint(fresh)}, firstFingerprints(m))
	assert.Contains(t, logs.String(), "level=WARN msg=\"cookiesession: the secret sealing was dropped")
	assert.Empty(t, m.secrets.Load().removed, "the leaked secret's cookies are not hinted at as removed too soon")
	assert.NotContains(t, logs.String(), string(fresh), "never the secret")

	// Left in place, the line turns the check off: every change says so.
	replace(secretsText(fresh, testKey(3)) + replaceAllLine + "\n")
	logged(SecretFingerprint(testKey(3)))
	logged("still ends with the line")
	replace(secretsText(testKey(3), fresh) + replaceAllLine + "\n")
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "still ends with the line") == 2 }, 5*time.Second, time.Millisecond, "%s", logs)

	// Without it, a first secret not in force before is fine while the
	// one sealing stays, and the old one goes from second place.
	replace(secretsText(testKey(4), testKey(3)))
	logged(SecretFingerprint(testKey(4)))
	replace(secretsText(testKey(4)))
	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual([]string{SecretFingerprint(testKey(4))}, firstFingerprints(m))
	}, 5*time.Second, time.Millisecond)
	assert.Equal(t, 2, strings.Count(logs.String(), "still ends with the line"))
}

// TestWatchSecretsFileReports: a file empty from the start is reported,
// a byte order mark is not part of the first secret, and a good file back
// after a refused one is logged.
func TestWatchSecretsFileReports(t *testing.T) {
	a := testKey(1)
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, _, logged := watchLog(t, [][]byte{a}, FormatSecureCookie, path)
	logged("holds no secret")

	bom := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(bom, append([]byte("\uFEFF"), a...), 0o600))
	secrets, err := SecretsFromFile(bom)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{a}, secrets, "the byte order mark is dropped")
	m, logs, logged := watchLog(t, [][]byte{a}, FormatSecureCookie, bom)
	logged("secrets in force")
	assert.Equal(t, []string{SecretFingerprint(a)}, firstFingerprints(m))
	assert.NotContains(t, logs.String(), "not in force before", "the same secret as at start")

	require.NoError(t, os.WriteFile(bom+".tmp", []byte("short"), 0o600))
	require.NoError(t, os.Rename(bom+".tmp", bom))
	logged("secret 0 is 5 bytes")
	require.NoError(t, os.WriteFile(bom+".tmp", a, 0o600))
	require.NoError(t, os.Rename(bom+".tmp", bom))
	logged("secrets file usable again")

	parsed, err := ParseSecrets("# comment\n#\n"+string(a)+", "+string(testKey(2))+"\r\n", "text")
	require.NoError(t, err)
	assert.Equal(t, [][]byte{a, testKey(2)}, parsed)
}

// TestShortExpressSecretWarnsWhenReplaced: a short FormatExpress secret is
// warned about however it arrives, as New warns about it.
func TestShortExpressSecretWarnsWhenReplaced(t *testing.T) {
	long := []byte("an-express-application-secret-of-40-bytes")
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, long, 0o600))
	m, logs, logged := watchLog(t, [][]byte{long}, FormatExpress, path)
	logged("secrets in force")
	assert.NotContains(t, logs.String(), "is short")
	require.NoError(t, m.ReplaceSecrets([][]byte{long, []byte("keyboard-cat")}))
	logged("FormatExpress secret is short")
	assert.Contains(t, logs.String(), "secret=1 bytes=12")
	require.NoError(t, os.WriteFile(path+".tmp", []byte("tiny-secret\n"+string(long)), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
	logged("secret=0 bytes=11")
}
