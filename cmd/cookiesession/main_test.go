package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/internal/localjar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyNew = "test-key-new-0123456789-0123456789-abcdef"
	keyOld = "test-key-old-0123456789-0123456789-abcdef"
)

// unset stands for an environment without COOKIESESSION_SECRETS.
const unset = "\x00unset"

// runCmd runs the command in-process with the given COOKIESESSION_SECRETS
// (or unset) and standard input, and returns the exit code and both
// outputs.
func runCmd(t *testing.T, secrets, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(name string) (string, bool) {
		if name == secretsEnv && secrets != unset {
			return secrets, true
		}
		return "", false
	}
	code := run(context.Background(), args, env{strings.NewReader(stdin), &stdout, &stderr, lookup})
	return code, stdout.String(), stderr.String()
}

// sessionCookie returns the Set-Cookie values a manager with keys writes for
// values, joined as a Cookie header.
func sessionCookie(t *testing.T, opts cookiesession.Options, values map[string]any) string {
	t.Helper()
	m, err := cookiesession.New(opts)
	require.NoError(t, err)
	s := m.LoadHeader()
	for k, v := range values {
		s.Set(k, v)
	}
	if user, ok := values["user"].(string); ok && opts.Format != cookiesession.FormatExpress {
		s.SetSubject(user)
	}
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = strings.SplitN(l, ";", 2)[0]
	}
	return strings.Join(parts, "; ")
}

func TestSecret(t *testing.T) {
	code, out, errOut := runCmd(t, unset, "", "secret")
	require.Equal(t, 0, code, errOut)
	// The hint follows the README's safe rotation: second, then first.
	assert.Contains(t, errOut, "put it second")
	assert.Contains(t, errOut, "move it first")
	_, again, _ := runCmd(t, unset, "", "secret")
	assert.NotEqual(t, out, again)
	assert.Contains(t, errOut, "fingerprint "+cookiesession.SecretFingerprint([]byte(strings.TrimSpace(out))))

	t.Setenv(secretsEnv, strings.TrimSpace(out)+","+strings.TrimSpace(again))
	secrets, err := cookiesession.SecretsFromEnv(secretsEnv)
	require.NoError(t, err)
	require.Len(t, secrets, 2)
	_, err = cookiesession.New(cookiesession.Options{Secrets: secrets})
	assert.NoError(t, err, "its output is accepted by New")

	code, out, _ = runCmd(t, unset, "", "secret", "-h")
	assert.Equal(t, 0, code)
	assert.NotContains(t, out, "newest first", "it makes one secret")
}

func TestInspect(t *testing.T) {
	keys := keyNew + "," + keyOld
	// Sealed with the older key: inspect reports key index 1.
	header := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte(keyOld)}}, map[string]any{"user": "ada", "n": 3})
	value := strings.TrimPrefix(header, "session=")

	for name, args := range map[string][]string{
		"value":  {"inspect", value},
		"header": {"inspect", "-header", "Cookie: " + header},
		"stdin":  {"inspect", "-"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd(t, keys, value+"\n", args...)
			require.Equal(t, 0, code, errOut)
			var got inspection
			require.NoError(t, json.Unmarshal([]byte(out), &got))
			assert.Equal(t, 1, got.SecretIndex)
			assert.Equal(t, cookiesession.SecretFingerprint([]byte(keyOld)), got.Fingerprint)
			assert.Equal(t, "compact", got.Format, "the default format")
			assert.Equal(t, 1, got.Chunks)
			assert.Equal(t, len(value), got.Bytes)
			assert.JSONEq(t, `"ada"`, string(got.Values["user"]))
			assert.JSONEq(t, `3`, string(got.Values["n"]))
			assert.Len(t, got.ID, 22)
			assert.Equal(t, "ada", got.Subject)
			assert.True(t, got.Expires.After(got.Created))
			assert.Contains(t, out, "\n  \"values\": {", "indented JSON")
		})
	}

	t.Run("NAME=VALUE names the cookie", func(t *testing.T) {
		header := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, Name: "__Host-session"}, map[string]any{"n": 1})
		code, out, errOut := runCmd(t, keyNew, "", "inspect", header)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, `"cookie": "__Host-session"`)
	})

	t.Run("chunked compact session from a secrets file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(file, []byte(keyNew+"\n"), 0o600))
		opts := cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, Format: cookiesession.FormatCompact, MaxChunks: 3, Name: "s"}
		header := sessionCookie(t, opts, map[string]any{"blob": strings.Repeat("x", 5000)})
		code, out, errOut := runCmd(t, unset, "", "inspect", "-name", "s", "-secrets-file", file, "-header", header)
		require.Equal(t, 0, code, errOut)
		var got inspection
		require.NoError(t, json.Unmarshal([]byte(out), &got))
		assert.Equal(t, "compact", got.Format)
		assert.Equal(t, 2, got.Chunks)
	})

	t.Run("express", func(t *testing.T) {
		header := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte("a")}, Format: cookiesession.FormatExpress}, map[string]any{"message": "hi"})
		code, out, errOut := runCmd(t, "a", "", "inspect", "-header", header)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, `"format": "express"`)
		assert.Contains(t, out, `"message": "hi"`)
	})

	t.Run("sign-only", func(t *testing.T) {
		header := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, Format: cookiesession.FormatSignOnly}, map[string]any{"theme": "dark"})
		code, out, errOut := runCmd(t, keyNew, "", "inspect", "-header", header)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, `"format": "sign-only"`)
	})
}

func TestInspectFailures(t *testing.T) {
	header := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}}, map[string]any{"user": "ada"})
	value := strings.TrimPrefix(header, "session=")
	tampered := []byte(value)
	tampered[len(tampered)/2] ^= 1

	hostHeader := sessionCookie(t, cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, Name: "__Host-session"}, map[string]any{"user": "ada"})
	hostValue := strings.TrimPrefix(hostHeader, "__Host-session=")
	tests := []struct {
		name, secrets, want string
		code                int
		args                []string
	}{
		{"tampered", keyNew, "invalid session cookie", 1, []string{"inspect", string(tampered)}},
		{"wrong secret", keyOld, "not verified by any secret", 1, []string{"inspect", value}},
		{"not a session", keyNew, "invalid session cookie", 1, []string{"inspect", "hello"}},
		{"no session cookie", keyNew, `no cookie named "session" here, only "other", "theme"`, 1, []string{"inspect", "-header", "Cookie: other=1; theme=dark"}},
		{"another name", keyNew, `no cookie named "session" here, only "__Host-session"`, 1, []string{"inspect", "-header", "Cookie: " + hostHeader}},
		{"a value under the wrong name", keyNew, "the name is part of the signature", 1, []string{"inspect", hostValue}},
		{"no secrets", unset, "COOKIESESSION_SECRETS is not set: set it, or give the secrets in a file with -secrets-file FILE", 2, []string{"inspect", value}},
		{"empty standard input", keyNew, "no cookie: standard input is empty", 1, []string{"inspect", "-"}},
		{"empty secrets", "", "COOKIESESSION_SECRETS holds no secret", 2, []string{"inspect", value}},
		{"a space between secrets", keyNew + " " + keyOld, "separate secrets with commas", 2, []string{"inspect", value}},
		{"weak secret", "short", "weak or missing secret", 2, []string{"inspect", value}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.secrets, "", tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

// TestInspectShortKey: a short key gives the weak-key error alone, not a
// warning about FormatExpress's keys first.
func TestInspectShortKey(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	code, _, errOut := runCmd(t, "short", "", "inspect", "abc")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "weak or missing secret")
	assert.Empty(t, logs.String(), "no warning besides the error")
}

// TestInspectExpired: a cookie that verifies but has expired is refused;
// with -expired its contents are shown, marked as no longer valid, and the
// exit code still says it is not a valid session.
func TestInspectExpired(t *testing.T) {
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, MaxAge: time.Second})
	require.NoError(t, err)
	s := m.LoadHeader()
	s.Set("user", "ada")
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	value := strings.TrimPrefix(strings.SplitN(lines[0], ";", 2)[0], "session=")
	time.Sleep(1100 * time.Millisecond) // expiry counts whole seconds

	code, out, errOut := runCmd(t, keyNew, value, "inspect", "-")
	assert.Equal(t, 3, code, "verified, but expired")
	assert.Empty(t, out)
	assert.Contains(t, errOut, "session expired")

	code, out, errOut = runCmd(t, keyNew, value, "inspect", "-expired", "-")
	assert.Equal(t, 3, code)
	assert.Contains(t, errOut, "session expired")
	var got inspection
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Contains(t, got.NoLongerValid, "session expired")
	assert.JSONEq(t, `"ada"`, string(got.Values["user"]))
	assert.True(t, strings.HasPrefix(out, "{\n  \"NO_LONGER_VALID\""), "the mark comes first: %s", out)

	code, out, _ = runCmd(t, keyNew, value, "inspect", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "[- | -header", "standard input comes first in the usage")
	assert.Contains(t, out, "inspect -   # standard input")
	assert.Contains(t, out, "exit status: 0 verified and not expired, 1 no cookie or not verified, 2 usage or configuration error, 3 verified but expired\n")
	assert.NotContains(t, out, "revoked session", "inspect consults no revocation list, so it promises nothing about one")
	assert.Contains(t, out, "does not consult a revocation list")
	assert.Contains(t, out, "cookiesession-revoke check")
}

func TestUsage(t *testing.T) {
	for _, cmd := range []string{"demo", "secret", "inspect"} {
		t.Run(cmd+" -h", func(t *testing.T) {
			code, out, _ := runCmd(t, "", "", cmd, "-h")
			assert.Equal(t, 0, code)
			assert.Contains(t, out, "usage: cookiesession "+cmd)
			assert.Contains(t, out, "example:")
		})
	}
	t.Run("every demo flag in its usage line", func(t *testing.T) {
		_, out, _ := runCmd(t, "", "", "demo", "-h")
		line, _, _ := strings.Cut(out, "\n")
		for _, flag := range []string{"-addr", "-max-chunks", "-format", "-secrets-file", "-https", "-insecure"} {
			assert.True(t, strings.Contains(line, "["+flag) || strings.Contains(line, "| "+flag), "%s missing from %q", flag, line)
		}
	})
	tests := map[string][]string{
		"no command":                nil,
		"unknown command":           {"serve"},
		"unknown flag":              {"secret", "-x"},
		"secret, extra arg":         {"secret", "2"},
		"inspect, no input":         {"inspect"},
		"inspect, two input":        {"inspect", "a", "b"},
		"demo, bad format":          {"demo", "-format", "xml"},
		"demo, extra arg":           {"demo", "now"},
		"demo, 17 chunks":           {"demo", "-max-chunks", "17"},
		"demo, express with chunks": {"demo", "-format", "express", "-max-chunks", "3"},
		"demo, https and insecure":  {"demo", "-https", "-insecure"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd(t, keyNew, "", args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			if args != nil {
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			}
		})
	}
}

// demoClient is a browser for the demo: a TLS server, so Secure cookies
// flow, and a cookie jar.
type demoClient struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newDemoClient(t *testing.T, maxChunks int) *demoClient {
	h, err := newDemo(cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}, MaxChunks: maxChunks})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return &demoClient{t, srv, c}
}

func (d *demoClient) get() (int, string) {
	resp, err := d.c.Get(d.srv.URL + "/")
	require.NoError(d.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (d *demoClient) getPath(path string) (int, string) {
	resp, err := d.c.Get(d.srv.URL + path)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (d *demoClient) post(path string, form url.Values) (int, string) {
	resp, err := d.c.PostForm(d.srv.URL+path, form)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// sessionCookies returns the names of the session cookies the jar holds.
func (d *demoClient) sessionCookies() []string {
	u, _ := url.Parse(d.srv.URL)
	var names []string
	for _, c := range d.c.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	return names
}

func TestDemoCounterLoginLogout(t *testing.T) {
	d := newDemoClient(t, 1)
	_, body := d.get()
	assert.Contains(t, body, `<strong id="visits">1</strong>`)
	assert.Contains(t, body, "none")
	_, body = d.get()
	assert.Contains(t, body, `<strong id="visits">2</strong>`)
	assert.Contains(t, body, "format compact, verified by secret 0, 1 cookie(s)")

	_, body = d.post("/login", url.Values{"user": {"grace"}})
	assert.Contains(t, body, `<strong id="user">grace</strong>`)
	assert.Contains(t, body, "Logged in")

	_, body = d.post("/logout", nil)
	assert.Contains(t, body, "Logged out")
	assert.Contains(t, body, "You are not logged in.")
	assert.Contains(t, body, `<strong id="visits">1</strong>`, "destroy started a new session")
}

// TestDemoLogoutEverywhere: a copy of the cookie, taken while logged in,
// is refused after "log out everywhere".
func TestDemoLogoutEverywhere(t *testing.T) {
	d := newDemoClient(t, 1)
	d.post("/login", url.Values{"user": {"grace"}})
	u, _ := url.Parse(d.srv.URL)
	copied := d.c.Jar.Cookies(u)
	time.Sleep(2 * time.Millisecond) // revocations count in milliseconds

	_, body := d.post("/logout-everywhere", nil)
	assert.Contains(t, body, "Logged out everywhere")
	assert.Contains(t, body, "You are not logged in.")

	thief := newJarClient(t, d, copied)
	resp, err := thief.Get(d.srv.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	stolen, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(stolen), "You are not logged in.", "the copied cookie no longer works")
	assert.Contains(t, string(stolen), "its session was revoked")
}

// newJarClient returns a client of d's server holding cookies.
func newJarClient(t *testing.T, d *demoClient, cookies []*http.Cookie) *http.Client {
	t.Helper()
	c := d.srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	u, _ := url.Parse(d.srv.URL)
	c.Jar.SetCookies(u, cookies)
	return c
}

func TestDemoChunking(t *testing.T) {
	d := newDemoClient(t, 3)
	status, body := d.post("/note", url.Values{"size": {"6000"}})
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `<span id="note-bytes">6000</span>`)
	assert.ElementsMatch(t, []string{"session", "session.1", "session.2"}, d.sessionCookies(), "a 6 KB note spans three cookies")

	_, body = d.get()
	assert.Contains(t, body, `<span id="note-bytes">6000</span>`, "and survives a reload")
	assert.Contains(t, body, "3 cookie(s)")

	_, body = d.post("/note", url.Values{"size": {"20"}})
	assert.Contains(t, body, `<span id="note-bytes">20</span>`)
	assert.Equal(t, []string{"session"}, d.sessionCookies(), "shrinking deletes the stale chunks")

	d.post("/note", url.Values{"size": {"6000"}})
	require.Len(t, d.sessionCookies(), 3)
	_, body = d.post("/logout", nil)
	assert.Contains(t, body, "Logged out")
	assert.Equal(t, []string{"session"}, d.sessionCookies(), "destroy deleted the chunks; the flash is a new session")
}

// TestDemoTeaches: the page shows whole Set-Cookie lines with their
// budgets, the previous response's lines (where chunks are deleted), a
// read that sends nothing, and reasons in plain sentences.
func TestDemoTeaches(t *testing.T) {
	d := newDemoClient(t, 3)
	_, body := d.post("/note", url.Values{"size": {"6000"}})
	assert.Contains(t, body, `id="prev-sent"`, "the POST's own Set-Cookie lines")
	assert.Contains(t, body, "Sent by the previous response (POST /note")
	assert.Equal(t, 3, strings.Count(body[strings.Index(body, `id="prev-sent"`):], "Max-Age=86400"), "three chunks written, attributes shown")
	assert.Contains(t, body, `class="meter"`)
	assert.Contains(t, body, `id="header-budget"`)
	assert.Contains(t, body, "What am I looking at?")
	assert.Contains(t, body, "<th>note</th><td class=\"v\">", "the note shown as text")

	_, body = d.post("/note", url.Values{"size": {"20"}})
	prev := body[strings.Index(body, `id="prev-sent"`):]
	assert.Contains(t, prev, "(deletes session.1)")
	assert.Contains(t, prev, "(deletes session.2)")

	status, body := d.getPath("/read")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "none: nothing changed, so no Set-Cookie was sent (this page only read the session)")

	tampered := newJarClient(t, d, []*http.Cookie{{Name: "session", Value: "MTIzfGFiY3xkZWY="}})
	resp, err := tampered.Get(d.srv.URL + "/read")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), "The session cookie did not verify")
	assert.NotContains(t, string(page), "named cookie not present")
}

func TestDemoExpressHidesWhatItsCookiesLack(t *testing.T) {
	h, err := newDemo(cookiesession.Options{Secrets: [][]byte{[]byte("express key")}, Format: cookiesession.FormatExpress})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.NotContains(t, string(body), "<th>id</th>")
	assert.NotContains(t, string(body), "<th>created</th>")
	assert.Contains(t, string(body), "signed the way Express")
}

// TestDemoAdviceFitsTheConfiguration: the size-error page suggests only
// what the running demo does not do already.
func TestDemoAdviceFitsTheConfiguration(t *testing.T) {
	for name, tc := range map[string]struct {
		opts      cookiesession.Options
		want, not []string
	}{
		"default, one cookie":      {cookiesession.Options{}, []string{"-max-chunks 3", "8 KB"}, []string{"-format compact"}},
		"securecookie, one cookie": {cookiesession.Options{Format: cookiesession.FormatSecureCookie}, []string{"-format compact", "-max-chunks 3", "8 KB"}, nil},
		"compact, 3 chunks":        {cookiesession.Options{Format: cookiesession.FormatCompact, MaxChunks: 3}, []string{"smaller note"}, []string{"-format compact", "-max-chunks 3"}},
		"express":                  {cookiesession.Options{Format: cookiesession.FormatExpress}, []string{"cannot split"}, []string{"-max-chunks"}},
	} {
		t.Run(name, func(t *testing.T) {
			tc.opts.Secrets = [][]byte{[]byte(keyNew)}
			h, err := newDemo(tc.opts)
			require.NoError(t, err)
			srv := httptest.NewTLSServer(h)
			defer srv.Close()
			size := "6000"
			if tc.opts.MaxChunks == 3 {
				size = "30000"
			}
			resp, err := srv.Client().PostForm(srv.URL+"/note", url.Values{"size": {size}})
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			advice := string(body[strings.Index(string(body), `id="advice"`):])
			for _, w := range tc.want {
				assert.Contains(t, advice, w)
			}
			for _, w := range tc.not {
				assert.NotContains(t, advice, w)
			}
		})
	}
}

func TestDemoTooLarge(t *testing.T) {
	d := newDemoClient(t, 1)
	d.get()
	status, body := d.post("/note", url.Values{"size": {"6000"}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, body, "cookiesession: encoded session is")
	assert.Contains(t, body, "-max-chunks 3")

	_, body = d.get()
	assert.Contains(t, body, `<strong id="visits">2</strong>`, "the previous session is intact")
	assert.Contains(t, body, `<span id="note-bytes">0</span>`)
}

// runDemo runs the demo in-process with args on a free loopback port and
// returns the URL it prints, and stop, which cancels it as SIGINT does and
// returns its exit code and standard error.
func runDemo(t *testing.T, args ...string) (url string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stdout, w := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		args := append([]string{"demo", "-addr", "127.0.0.1:0"}, args...)
		done <- run(ctx, args, env{strings.NewReader(""), w, &stderr, func(string) (string, bool) { return "", false }})
		w.Close()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	_, addr, ok := strings.Cut(line, "listening on ")
	require.True(t, ok, line)
	return strings.Fields(addr)[0], func() (int, string) {
		cancel()
		return <-done, stderr.String()
	}
}

func TestDemoServesAndShutsDown(t *testing.T) {
	url, stop := runDemo(t)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "cookiesession demo")

	code, stderr := stop()
	assert.Equal(t, 0, code, "graceful shutdown exits 0")
	assert.Contains(t, stderr, "COOKIESESSION_SECRETS is not set, so this run uses a new secret")
	assert.Contains(t, stderr, "Safari and other WebKit browsers keep no Secure cookie from http://localhost; use -https")
	// The line to keep sessions across restarts, with the secret in use.
	_, export, ok := strings.Cut(stderr, "  export COOKIESESSION_SECRETS=")
	require.True(t, ok, stderr)
	secret, _, _ := strings.Cut(export, "\n")
	t.Setenv(secretsEnv, secret)
	secrets, err := cookiesession.SecretsFromEnv(secretsEnv)
	require.NoError(t, err)
	_, err = cookiesession.New(cookiesession.Options{Secrets: secrets})
	assert.NoError(t, err)

	// Set but empty is a mistake, as for SecretsFromEnv, not a request
	// for a throw-away secret.
	code, out, errOut := runCmd(t, "", "", "demo", "-addr", "127.0.0.1:0")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "COOKIESESSION_SECRETS holds no secret")
}

// TestDemoServesHTTPS: -https serves TLS with a certificate made at start
// for the loopback addresses, over HTTP/2 to a client that offers it, and
// the session cookie keeps Secure.
func TestDemoServesHTTPS(t *testing.T) {
	url, stop := runDemo(t, "-https")
	require.True(t, strings.HasPrefix(url, "https://127.0.0.1:"), url)

	var seen *x509.Certificate
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // self-signed by design; checked below instead
		VerifyConnection: func(cs tls.ConnectionState) error {
			seen = cs.PeerCertificates[0]
			return nil
		},
	}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(url + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "HTTP/2.0", resp.Proto, "as browsers speak it to HTTPS sites")
	require.Len(t, resp.Cookies(), 1)
	assert.True(t, resp.Cookies()[0].Secure)
	require.NotNil(t, seen)
	assert.NoError(t, seen.VerifyHostname("localhost"))
	assert.NoError(t, seen.VerifyHostname("127.0.0.1"))
	assert.NoError(t, seen.CheckSignature(seen.SignatureAlgorithm, seen.RawTBSCertificate, seen.Signature), "self-signed")

	code, stderr := stop()
	assert.Equal(t, 0, code)
	assert.NotContains(t, stderr, "-https", "no advice needed over HTTPS")
}

// TestDemoRefusesCrossOriginForms: the demo's state-changing routes sit
// behind net/http's cross-origin protection; its own forms still work.
func TestDemoRefusesCrossOriginForms(t *testing.T) {
	d := newDemoClient(t, 1)
	status, _ := d.post("/note", url.Values{"size": {"20"}})
	require.Equal(t, http.StatusOK, status, "the demo's own form")
	for _, path := range []string{"/note", "/login", "/logout", "/logout-everywhere"} {
		req, err := http.NewRequest(http.MethodPost, d.srv.URL+path, strings.NewReader("size=6000"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := d.c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.Empty(t, resp.Cookies(), path)
	}
	_, body := d.get()
	assert.Contains(t, body, `<span id="note-bytes">20</span>`, "the session is unchanged")
}

// TestDemoRotatesFromAFile: with -secrets-file, the demo keeps its secrets
// those of the file, and its panel shows the rotation as it happens.
func TestDemoRotatesFromAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte(keyOld), 0o600))
	url, stop := runDemo(t, "-secrets-file", file)
	defer stop()
	c := &http.Client{Jar: localjar.New()}
	page := func() string {
		resp, err := c.Get(url + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	assert.Contains(t, page(), "<td>0</td><td>"+cookiesession.SecretFingerprint([]byte(keyOld))+"</td>")

	require.NoError(t, os.WriteFile(file+".tmp", []byte(keyNew+"\n"+keyOld), 0o600))
	require.NoError(t, os.Rename(file+".tmp", file))
	require.Eventually(t, func() bool {
		return strings.Contains(page(), "<td>0</td><td>"+cookiesession.SecretFingerprint([]byte(keyNew))+"</td>")
	}, 10*time.Second, 50*time.Millisecond, "the new secret seals")
	body := page()
	assert.Contains(t, body, "<td>1</td><td>"+cookiesession.SecretFingerprint([]byte(keyOld))+"</td>")
	assert.Contains(t, body, "keep: it verified a cookie", "the old secret's cookie was re-issued a moment ago")
	assert.Contains(t, body, "refused: none", "nobody was logged out")
	assert.NotContains(t, body, `<strong id="visits">1</strong>`)
}
