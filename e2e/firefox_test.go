package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"
)

// firefox drives headless Firefox ESR through WebDriver BiDi, the only
// automation protocol it speaks (no CDP; Debian has no geckodriver). No Go
// BiDi library is well kept, and the suite needs seven commands, so this is
// a small client over coder/websocket. Calls are made one at a time.
type firefox struct {
	conn    *websocket.Conn
	context string // the top-level browsing context
	lastID  int
}

func startFirefox(t *testing.T) browser {
	t.Helper()
	path := need(t, "FIREFOX", "firefox-esr", "firefox-esr")
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", t.TempDir(),
		"--remote-debugging-port=0", "about:blank")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	startGroup(t, cmd, 0)

	// Firefox prints the address it listens on; its other noise is drained.
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if _, url, ok := strings.Cut(lines.Text(), "WebDriver BiDi listening on "); ok {
				addr <- url
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("Firefox printed no WebDriver BiDi address within 30 s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url+"/session", nil)
	require.NoError(t, err, "connect to %s", url)
	conn.SetReadLimit(16 << 20) // cookie lists of several 4 KB cookies
	f := &firefox{conn: conn}
	t.Cleanup(func() {
		_ = f.call("session.end", struct{}{}, nil)
		_ = conn.CloseNow()
	})

	require.NoError(t, f.call("session.new", map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{
			"acceptInsecureCerts": true, // the test's own certificate
		}},
	}, nil))
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	require.NoError(t, f.call("browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree))
	require.NotEmpty(t, tree.Contexts, "Firefox has a window")
	f.context = tree.Contexts[0].Context
	return f
}

// call sends one command and decodes its result into result, skipping the
// events that arrive meanwhile.
func (f *firefox) call(method string, params, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.lastID++
	id := f.lastID
	err := wsjson.Write(ctx, f.conn, map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		var msg struct {
			ID      *int            `json:"id"`
			Type    string          `json:"type"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
			Result  json.RawMessage `json:"result"`
		}
		if err := wsjson.Read(ctx, f.conn, &msg); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		switch {
		case msg.ID == nil || *msg.ID != id:
			continue // an event
		case msg.Type == "error":
			return fmt.Errorf("%s: %s: %s", method, msg.Error, msg.Message)
		case result == nil:
			return nil
		}
		return json.Unmarshal(msg.Result, result)
	}
}

func (f *firefox) open(url string) (string, error) {
	err := f.call("browsingContext.navigate", map[string]any{
		"context": f.context, "url": url, "wait": "complete",
	}, nil)
	if err != nil {
		return "", err
	}
	return f.eval("document.body.innerText")
}

func (f *firefox) eval(js string) (string, error) {
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := f.call("script.evaluate", map[string]any{
		"expression":   "String(" + js + ")",
		"target":       map[string]any{"context": f.context},
		"awaitPromise": false,
	}, &res)
	if err == nil && res.Type == "exception" {
		err = fmt.Errorf("script.evaluate %q: %s", js, res.ExceptionDetails.Text)
	}
	return res.Result.Value, err
}

func (f *firefox) cookies() ([]cookie, error) {
	var res struct {
		Cookies []struct {
			wireCookie
			Value struct{ Value string } // BiDi's value is typed
		}
	}
	if err := f.call("storage.getCookies", struct{}{}, &res); err != nil {
		return nil, err
	}
	var out []cookie
	for _, c := range res.Cookies {
		out = append(out, c.cookie(c.Value.Value))
	}
	return out, nil
}

func (f *firefox) clear() error {
	return f.call("storage.deleteCookies", struct{}{}, nil)
}
