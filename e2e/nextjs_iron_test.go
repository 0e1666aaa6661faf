package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startIronExample builds examples/nextjs-iron and runs it on a free
// loopback port: the Node app with its iron-session login and the Go
// service behind one origin. It returns the site's URL.
func startIronExample(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "examples", "nextjs-iron")
	need(t, "NODE", "node", "nodejs")
	if _, err := os.Stat(filepath.Join(dir, "node", "node_modules", "iron-session")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("run 'npm ci' in examples/nextjs-iron/node")
		}
		t.Skip("run 'npm ci' in examples/nextjs-iron/node")
	}
	bin := filepath.Join(t.TempDir(), "nextjs-iron")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build: %s", out)
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "SESSION_PASSWORD=e2e-iron-password-0123456789abcdefghij")
	cmd.Stderr = os.Stderr
	// One group for the Go service and the Node app it starts, so that
	// both stop when the test ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the example did not start")
	return strings.TrimSpace(line)
}

// TestSharedLoginWithIronSession signs in on the Node side, reads and
// changes the session on the Go side and sees the change on the Node side,
// in Chromium, with the cookie as the browser keeps it.
func TestSharedLoginWithIronSession(t *testing.T) {
	b := startChromium(t)
	site := startIronExample(t)
	for _, step := range []struct{ path, want string }{
		{"/go/profile", "Go: not signed in"},
		{"/login?name=Ada", "Node: signed in as Ada"},
		{"/profile", "Node: Ada, 1 visits"},
		{"/go/profile", "Go: Ada, 1 visits"},
		{"/go/rename?name=Grace", "Go: renamed to Grace"},
		{"/profile", "Node: Grace, 2 visits"},
	} {
		page, err := open(b, site+step.path)
		require.NoError(t, err, step.path)
		assert.Equal(t, step.want, strings.TrimSpace(page), step.path)
	}
	cookies, err := b.cookies()
	require.NoError(t, err)
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "app_session", c.Name)
	assert.True(t, strings.HasPrefix(c.Value, "Fe26.2*1*") && strings.HasSuffix(c.Value, "~2"), "an iron-session seal")
	assert.True(t, c.HTTPOnly && c.Secure, "HttpOnly and Secure, as both sides set it")
	assert.Equal(t, "Lax", c.SameSite)

	page, err := open(b, site+"/logout")
	require.NoError(t, err)
	assert.Equal(t, "Node: signed out", strings.TrimSpace(page))
	page, err = open(b, site+"/go/profile")
	require.NoError(t, err)
	assert.Equal(t, "Go: not signed in", strings.TrimSpace(page))
}
