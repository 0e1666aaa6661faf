package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// webkit drives WebKitGTK's MiniBrowser through WebKitWebDriver's W3C
// WebDriver HTTP API, over net/http. WebKitGTK has no headless mode, so it
// runs on an Xvfb display started for the test; without a display the
// driver's POST /session hangs without an error, which is why every call
// has a client-side timeout.
type webkit struct {
	client  *http.Client
	session string // http://127.0.0.1:port/session/id
}

// miniBrowser is where Debian's libwebkit2gtk-4.1-0 puts MiniBrowser, in a
// directory named after the architecture.
func miniBrowser() string {
	found, _ := filepath.Glob("/usr/lib/*/webkit2gtk-4.1/MiniBrowser")
	if len(found) == 0 {
		return "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser" // for the message
	}
	return found[0]
}

func startWebKit(t *testing.T) browser {
	t.Helper()
	driver := need(t, "WEBKIT_WEBDRIVER", "WebKitWebDriver", "webkit2gtk-driver")
	xvfb := need(t, "XVFB", "Xvfb", "xvfb")
	browserPath := need(t, "MINIBROWSER", miniBrowser(), "webkit2gtk-driver")

	// Xvfb picks a free display and writes its number to fd 3.
	displayR, displayW, err := os.Pipe()
	require.NoError(t, err)
	x := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	x.ExtraFiles = []*os.File{displayW}
	group := startGroup(t, x, 0)
	displayW.Close()
	display := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(displayR).ReadString('\n')
		display <- strings.TrimSpace(line)
		displayR.Close()
	}()
	var n string
	select {
	case n = <-display:
		require.NotEmpty(t, n, "Xvfb exited without a display")
	case <-time.After(patience):
		t.Fatalf("Xvfb printed no display within %v", patience)
	}

	port := freePort(t)
	d := exec.Command(driver, "--port="+strconv.Itoa(port))
	d.Env = append(os.Environ(), "DISPLAY=:"+n)
	startGroup(t, d, group)

	w := &webkit{client: &http.Client{Timeout: patience}}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.NoError(t, eventually(func() error {
		return w.call(http.MethodGet, base+"/status", nil, nil)
	}), "WebKitWebDriver answers")
	var created struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, w.call(http.MethodPost, base+"/session", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{
			"acceptInsecureCerts": true, // the test's own certificate
			// The default script timeout, 30 s, is too tight on a
			// busy machine even for a script that returns at once.
			"timeouts": map[string]any{"script": patience.Milliseconds(), "pageLoad": patience.Milliseconds()},
			"webkitgtk:browserOptions": map[string]any{
				"binary": browserPath,
				"args":   []string{"--automation"},
			},
		}},
	}, &created), "start MiniBrowser")
	w.session = base + "/session/" + created.SessionID
	t.Cleanup(func() { _ = w.call(http.MethodDelete, w.session, nil, nil) })
	return w
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// call makes one WebDriver request and decodes its "value" into result.
func (w *webkit) call(method, url string, body, result any) error {
	var payload bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&payload).Encode(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(method, url, &payload)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var msg struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		return fmt.Errorf("%s %s: %s: %w", method, url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(msg.Value, &e)
		return fmt.Errorf("%s %s: %s: %s", method, url, e.Error, e.Message)
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(msg.Value, result)
}

// navigate waits for the load event of the navigation it starts (the
// session's default page load strategy, "normal").
func (w *webkit) navigate(url string) error {
	return w.call(http.MethodPost, w.session+"/url", map[string]string{"url": url}, nil)
}

func (w *webkit) eval(js string) (string, error) {
	var s string
	err := w.call(http.MethodPost, w.session+"/execute/sync", map[string]any{
		"script": "return String(" + js + ")", "args": []any{},
	}, &s)
	return s, err
}

// cookies returns the cookies of the current page's address, which is the
// only scope WebDriver offers; every test page is on localhost.
func (w *webkit) cookies() ([]cookie, error) {
	var list []struct {
		wireCookie
		Value string
	}
	if err := w.call(http.MethodGet, w.session+"/cookie", nil, &list); err != nil {
		return nil, err
	}
	var out []cookie
	for _, c := range list {
		out = append(out, c.cookie(c.Value))
	}
	return out, nil
}

func (w *webkit) clear() error {
	return w.call(http.MethodDelete, w.session+"/cookie", nil, nil)
}
