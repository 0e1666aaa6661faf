// Package harness runs the scripts under testdata/ that seal and open
// sessions with another stack's own library, for the interoperability
// tests of format/... and of the Express format: for Rails, Django and
// Flask one process per test, one JSON request per line on its stdin, one
// JSON answer per line on its stdout; for the Node stacks (iron-session,
// Auth.js, Express's cookie-session) an HTTP app on 127.0.0.1.
package harness

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Process is a running harness script.
type Process struct {
	t   testing.TB
	in  io.Writer
	out *bufio.Scanner
}

// root is the repository's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Need skips the test when missing says what is missing (it is empty when
// nothing is), or fails it when CI is set: CI must run every
// interoperability test.
func Need(t testing.TB, what string, missing string) {
	t.Helper()
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s interoperability test: %s", what, missing)
	}
	t.Skipf("%s interoperability test: %s", what, missing)
}

// Missing runs name with args, a probe that fails when a stack is missing
// or of another version than the tests want, and returns what Need takes:
// "" when the probe succeeds, else want (what to install) and the probe's
// output.
func Missing(want, name string, args ...string) string {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return want + ": " + strings.TrimSpace(string(out))
	}
	return ""
}

// Start runs name with args in the repository's root and stops it when the
// test ends.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root()
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	return &Process{t: t, in: in, out: sc}
}

// Do sends req and decodes the answer into resp. An answer with an "error"
// field fails the test.
func (p *Process) Do(req, resp any) {
	p.t.Helper()
	line, err := json.Marshal(req)
	require.NoError(p.t, err)
	_, err = p.in.Write(append(line, '\n'))
	require.NoError(p.t, err)
	require.True(p.t, p.out.Scan(), "the harness ended: %v", p.out.Err())
	var failed struct {
		Error string `json:"error"`
	}
	require.NoError(p.t, json.Unmarshal(p.out.Bytes(), &failed), "%s", p.out.Bytes())
	require.Empty(p.t, failed.Error, "the harness failed on %s", line)
	require.NoError(p.t, json.Unmarshal(p.out.Bytes(), resp))
}

// StartNode runs testdata/dir/app.js with env added to its environment,
// stops it when the test ends and returns its address,
// http://127.0.0.1:PORT, from the port it prints first. Without node, or
// without the package module installed under testdata/dir/node_modules,
// Need skips (or fails) the test, naming install, the command that
// installs the packages.
func StartNode(t testing.TB, what, dir, module, install string, env ...string) string {
	t.Helper()
	dir = filepath.Join(root(), "testdata", dir)
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", module)); err != nil {
		missing = "run '" + install + "' in " + filepath.Join("testdata", filepath.Base(dir))
	}
	Need(t, what, missing)
	cmd := exec.Command("node", "app.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the %s app did not start", what)
	return "http://127.0.0.1:" + strings.TrimSpace(port)
}

// Get requests url with the Cookie header (none when cookie is empty),
// requires 200 OK, decodes the JSON body into answer and returns the
// response's header.
func Get(t testing.TB, url, cookie string, answer any) http.Header {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, json.Unmarshal(body, answer), string(body))
	return resp.Header
}
