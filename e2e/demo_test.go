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
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startDemo builds the cookiesession command and runs its demo on a free
// loopback port with args, stopping it by its PID when the test ends. It
// returns the demo's URL.
func startDemo(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cookiesession")
	build := exec.Command("go", "build", "-o", bin, "github.com/cookiesession/cookiesession/cmd/cookiesession")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build: %s", out)
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
		// waitFor polls the page until its location and text contain want;
		// evaluating fails while a navigation is under way.
		waitFor := func(want string) string {
			t.Helper()
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				page, err := b.eval(`location.href + "\n" + document.body.innerText`)
				if err == nil && strings.Contains(page, want) {
					return page
				}
				require.True(t, time.Now().Before(deadline), "no page with %q; last: %q, %v", want, page, err)
			}
		}
		noteBytes := func() string {
			t.Helper()
			_, err := b.open(demo + "/")
			require.NoError(t, err)
			n, err := b.eval(`document.getElementById("note-bytes").textContent`)
			require.NoError(t, err)
			return n
		}

		_, err := b.open(demo + "/")
		require.NoError(t, err)
		_, err = b.eval(`(document.querySelector('form[action="/note"] input[value="20"] ~ button').click(), "")`)
		require.NoError(t, err)
		waitFor("Stored a note of 20 bytes.")
		require.Equal(t, "20", noteBytes(), "the demo's own form works")

		// The attacker's page submits its form as it loads, so opening it
		// may fail on the navigation that starts (Firefox's BiDi reports a
		// script error then): what counts is the page it ends on.
		_, err = b.open(strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1) + "/")
		if err != nil {
			t.Logf("opening the attacker's page: %v", err)
		}
		page := waitFor("cross-origin request")
		assert.True(t, strings.HasPrefix(page, demo+"/note"), "refused by the demo: %q", page)
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
			text, err := b.open(url + "/")
			require.NoError(t, err)
			assert.Contains(t, text, want)
		}
		cs, err := b.cookies()
		require.NoError(t, err)
		require.Len(t, cs, 1)
		assert.True(t, cs[0].Secure)
	})
}

// TestDemoPage: the demo's teaching elements, as Chromium renders them:
// the previous response's Set-Cookie lines with their attributes, the
// budget bars, the explanation, and a read that sends no Set-Cookie.
func TestDemoPage(t *testing.T) {
	ctx := newChromium(t).ctx
	url := startDemo(t, "-max-chunks", "3")
	text := func(sel string) string {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return out
	}
	// click clicks sel and waits for the page that shows want: waiting
	// for an element alone could match the page being left.
	click := func(sel, want string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)), sel)
		shows := func() bool {
			body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			return err == nil && strings.Contains(body, want) // err: mid-navigation
		}
		for deadline := time.Now().Add(10 * time.Second); !shows(); time.Sleep(50 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "no page with %q after clicking %s", want, sel)
		}
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+"/")))
	click(`form[action="/note"] input[value="6000"] ~ button`, "Stored a note of 6000 bytes.")
	prev := text(`#prev-sent`)
	assert.Equal(t, 3, strings.Count(prev, "; HttpOnly; Secure; SameSite=Lax"), "three chunks, attributes shown: %s", prev)
	assert.Equal(t, 3, strings.Count(prev, "; Path=/; Max-Age="), prev)
	assert.Contains(t, text(`#explain`), "6,000 bytes of note need about")
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
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+"/")))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "demo.jpg"), png, 0o644))
	}
}
