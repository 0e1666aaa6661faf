package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const password = "example-iron-password-0123456789abcdef"

// TestSharedLogin signs in on the Node side, reads and changes the session
// on the Go side, and sees the change on the Node side, through the one
// origin the proxy makes.
func TestSharedLogin(t *testing.T) {
	if _, err := os.Stat(filepath.Join("node", "node_modules", "iron-session")); err != nil || !hasNode() {
		if os.Getenv("CI") != "" {
			t.Fatal("the example needs node and 'npm ci' in examples/nextjs-iron/node")
		}
		t.Skip("the example needs node and 'npm ci' in examples/nextjs-iron/node")
	}
	m, err := newManager(password)
	require.NoError(t, err)
	node, cmd, err := startNode("node", password)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// TLS, since both sides set Secure cookies, as they would in
	// production.
	srv := httptest.NewTLSServer(site(node, goService(m)))
	defer srv.Close()
	b := &browser{t: t, client: srv.Client(), base: srv.URL, jar: map[string]string{}}

	assert.Equal(t, "Go: not signed in", b.get("/go/profile"))
	assert.Equal(t, "Node: signed in as Ada", b.get("/login?name=Ada"))
	assert.Equal(t, "Node: Ada, 1 visits", b.get("/profile"))
	assert.Equal(t, "Go: Ada, 1 visits", b.get("/go/profile"), "Go reads the Node app's session")
	assert.Equal(t, "Go: renamed to Grace", b.get("/go/rename?name=Grace"))
	assert.Equal(t, "Node: Grace, 2 visits", b.get("/profile"), "Node reads what Go wrote")
	assert.Equal(t, "Go: Grace, 2 visits", b.get("/go/profile"))
	assert.Equal(t, "Node: signed out", b.get("/logout"))
	assert.Equal(t, "Go: not signed in", b.get("/go/profile"))
}

func hasNode() bool {
	_, err := exec.LookPath("node")
	return err == nil
}

// browser keeps the cookies of one origin, as a browser would.
type browser struct {
	t      *testing.T
	client *http.Client
	base   string
	jar    map[string]string
}

var out = regexp.MustCompile(`<p id="out">(.*)</p>`)

// get fetches path and returns the page's text.
func (b *browser) get(path string) string {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	for name, value := range b.jar {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	body, _ := io.ReadAll(resp.Body)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, string(body))
	m := out.FindSubmatch(body)
	require.NotNil(b.t, m, string(body))
	return string(m[1])
}
