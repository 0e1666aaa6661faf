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
	// replies carries the answers to commands, read from conn by one
	// goroutine for the browser's lifetime: a read given a deadline would
	// close the connection when the deadline passes (coder/websocket), so
	// a call that waits too long is given up without reading.
	replies chan bidiReply
	// done is closed when the reader stops, readErr saying why.
	done    chan struct{}
	readErr error
}

// bidiReply is a WebDriver BiDi message: an answer to a command, or an
// event.
type bidiReply struct {
	ID      *int            `json:"id"` // nil in an event
	Type    string          `json:"type"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Result  json.RawMessage `json:"result"`
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
	case <-time.After(patience):
		t.Fatalf("Firefox printed no WebDriver BiDi address within %v", patience)
	}

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url+"/session", nil)
	require.NoError(t, err, "connect to %s", url)
	conn.SetReadLimit(16 << 20) // cookie lists of several 4 KB cookies
	f := &firefox{conn: conn, replies: make(chan bidiReply), done: make(chan struct{})}
	life, end := context.WithCancel(context.Background())
	go f.read(life)
	t.Cleanup(func() {
		_ = f.call("session.end", struct{}{}, nil)
		end()
		_ = conn.CloseNow()
		<-f.done
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

// read passes the answers to commands to call until the connection
// closes or life ends, and drops events.
func (f *firefox) read(life context.Context) {
	defer close(f.done)
	for {
		var msg bidiReply
		if err := wsjson.Read(life, f.conn, &msg); err != nil {
			f.readErr = err
			return
		}
		if msg.ID == nil {
			continue // an event
		}
		select {
		case f.replies <- msg:
		case <-life.Done():
		}
	}
}

// call sends one command and decodes its result into result, waiting
// patience for the answer.
func (f *firefox) call(method string, params, result any) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	f.lastID++
	id := f.lastID
	err := wsjson.Write(ctx, f.conn, map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		var msg bidiReply
		select {
		case msg = <-f.replies:
		case <-f.done:
			return fmt.Errorf("%s: %w", method, f.readErr)
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer within %v", method, patience)
		}
		switch {
		case *msg.ID != id:
			continue // the late answer to a command given up
		case msg.Type == "error":
			return fmt.Errorf("%s: %s: %s", method, msg.Error, msg.Message)
		case result == nil:
			return nil
		}
		return json.Unmarshal(msg.Result, result)
	}
}

// navigate waits for the load event of the navigation it starts.
func (f *firefox) navigate(url string) error {
	return f.call("browsingContext.navigate", map[string]any{
		"context": f.context, "url": url, "wait": "complete",
	}, nil)
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
