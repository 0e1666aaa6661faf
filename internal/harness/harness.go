// Package harness runs the scripts under testdata/ that seal and open
// sessions with another stack's own library (Rails, Django, Flask), for the
// interoperability tests of format/...: one process per test, one JSON
// request per line on its stdin, one JSON answer per line on its stdout.
package harness

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
