package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binDir holds the cookiesession command, built once for the whole run
// (linking it takes seconds on a busy machine) and removed by TestMain.
var binDir string

var buildCommand = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "cookiesession")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cookiesession/cookiesession/cmd/cookiesession").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build: %w: %s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// startDemo runs the cookiesession command's demo on a free loopback port
// with args, stopping it by its PID when the test ends. It returns the
// demo's URL once the demo has said where it listens.
func startDemo(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := buildCommand()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"demo", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = withoutSecrets(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			return f
		}
	}
	t.Fatalf("no address in %q", line)
	return ""
}

// withoutSecrets returns env without COOKIESESSION_SECRETS, so the demo
// makes a secret of its own.
func withoutSecrets(env []string) []string {
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "COOKIESESSION_SECRETS=") })
}

// TestDemoRefusesCrossSiteForms: a page of another site (http://localhost,
// against the demo on https://127.0.0.1) whose form posts to the demo is
// refused by the demo's cross-origin protection and changes nothing, in
// every engine, while the demo's own form works.
func TestDemoRefusesCrossSiteForms(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		demo := startDemo(t, "-https")
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/note"><input name="size" value="100"></form><script>document.forms[0].submit()</script>`, demo)
		}))
		t.Cleanup(attacker.Close)
		noteBytes := func() string {
			t.Helper()
			_, err := open(b, demo+"/")
			require.NoError(t, err)
			n, err := b.eval(`document.getElementById("note-bytes").textContent`)
			require.NoError(t, err)
			return n
		}

		_, err := open(b, demo+"/")
		require.NoError(t, err)
		_, err = b.eval(`(document.querySelector('form[action="/note"] input[value="20"] ~ button').click(), "")`)
		require.NoError(t, err)
		waitForPage(t, b, "Stored a note of 20 bytes.")
		require.Equal(t, "20", noteBytes(), "the demo's own form works")

		// The attacker's page submits its form as it loads, so the load
		// the navigation waits for may be either page's, and the command
		// may fail on the navigation that starts (Firefox's BiDi reported a
		// script error then): what counts is the page it ends on.
		if err := b.navigate(strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1) + "/"); err != nil {
			t.Logf("opening the attacker's page: %v", err)
		}
		page := waitForPage(t, b, "cross-origin request")
		assert.True(t, strings.HasPrefix(page.URL, demo+"/note"), "refused by the demo: %v", page)
		assert.Equal(t, "20", noteBytes(), "the session is unchanged")
	})
}

// TestDemoOverHTTPS: with -https the demo's Secure cookie is kept in every
// engine, WebKit included, which keeps none from http://localhost.
func TestDemoOverHTTPS(t *testing.T) {
	inEachEngine(t, func(t *testing.T, e engine, b browser) {
		url := startDemo(t, "-https")
		require.True(t, strings.HasPrefix(url, "https://127.0.0.1:"), url)
		for _, want := range []string{"This is visit 1 ", "This is visit 2 "} {
			text, err := open(b, url+"/")
			require.NoError(t, err)
			assert.Contains(t, text, want)
		}
		// The demo's only cookie, once the browser reports it stored.
		var cs []cookie
		require.NoError(t, eventually(func() error {
			var err error
			if cs, err = b.cookies(); err == nil && len(cs) != 1 {
				err = fmt.Errorf("cookies: %v", cs)
			}
			return err
		}))
		assert.True(t, cs[0].Secure)
	})
}

// TestDemoPage: the demo's teaching elements, as Chromium renders them:
// the previous response's Set-Cookie lines with their attributes, the
// budget bars, the explanation, and a read that sends no Set-Cookie.
func TestDemoPage(t *testing.T) {
	c := newChromium(t)
	url := startDemo(t, "-max-chunks", "3")
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := c.within()
		defer cancel()
		out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return out
	}
	// click clicks sel and waits for the complete page that shows want:
	// waiting for an element alone could match the page being left.
	click := func(sel, want string) {
		t.Helper()
		ctx, cancel := c.within()
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		require.NoError(t, err, sel)
		waitForPage(t, c, want)
	}

	_, err := open(c, url+"/")
	require.NoError(t, err)
	click(`form[action="/note"] input[value="6000"] ~ button`, "Stored a note of 6000 bytes.")
	prev := text(`#prev-sent`)
	assert.Equal(t, 3, strings.Count(prev, "; HttpOnly; Secure; SameSite=Lax"), "three chunks, attributes shown: %s", prev)
	assert.Equal(t, 3, strings.Count(prev, "; Path=/; Max-Age="), prev)
	assert.Contains(t, text(`#explain`), "6,000 bytes of note need about")
	ctx, cancel := c.within()
	defer cancel()
	meters, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".meter .bar").length`))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, meters, 6, "a bar for each cookie received and sent")

	click(`form[action="/note"] input[value="20"] ~ button`, "Stored a note of 20 bytes.")
	prev = text(`#prev-sent`)
	assert.Contains(t, prev, "(deletes session.1)")
	assert.Contains(t, prev, "(deletes session.2)")

	click(`#just-read`, "this page only read the session")
	assert.Contains(t, text(`#sent`), "nothing changed, so no Set-Cookie was sent")

	if dir := os.Getenv("DEMO_SCREENSHOT_DIR"); dir != "" {
		_, err := open(c, url+"/")
		require.NoError(t, err)
		ctx, cancel := c.within()
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.jpg"), png, 0o644))
	}
}
