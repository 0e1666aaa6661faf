//go:build !wasip1

package wasi

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// TestUnderWASI builds this package's tests for GOOS=wasip1 GOARCH=wasm and
// runs TestHeaderAPI in wazero, a WASI runtime written in Go.
func TestUnderWASI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WebAssembly test binary")
	}
	bin := filepath.Join(t.TempDir(), "wasi.test.wasm")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building for wasip1: %s", out)
	wasm, err := os.ReadFile(bin)
	require.NoError(t, err)

	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	var output bytes.Buffer
	config := wazero.NewModuleConfig().
		WithArgs("wasi.test.wasm", "-test.run", "^TestHeaderAPI$", "-test.v").
		WithStdout(&output).WithStderr(&output).
		WithRandSource(rand.Reader).WithSysWalltime().WithSysNanotime()
	_, err = r.InstantiateWithConfig(ctx, wasm, config)
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	require.NoError(t, err, output.String())
	assert.Contains(t, output.String(), "--- PASS: TestHeaderAPI/securecookie")
	assert.Contains(t, output.String(), "--- PASS: TestHeaderAPI/compact")
	t.Logf("under wazero:\n%s", output.String())
}
