package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSecret = "cookiesession-revoke-test-secret-0001-not-for-production"

// runCmd runs the command in-process with the environment given, and
// returns its exit code and output.
func runCmd(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := run(context.Background(), args, env{strings.NewReader(stdin), &stdout, &stderr, lookup})
	return code, stdout.String(), stderr.String()
}

// login returns the cookie (NAME=VALUE) of a session of subject, sealed
// as a service with testSecret would.
func login(t *testing.T, subject string) string {
	t.Helper()
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{[]byte(testSecret)}})
	require.NoError(t, err)
	s := m.LoadHeader()
	s.SetSubject(subject)
	s.Set("user", subject)
	lines, err := m.SaveHeader(s)
	require.NoError(t, err)
	return strings.SplitN(lines[0], ";", 2)[0]
}

// replica is a running service's list on srv, to see what the command
// does reach the service.
func replica(t *testing.T, srv *redistest.Server) *redisrevocation.List {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := redisrevocation.New(ctx, goredisdriver.New(c), redisrevocation.Options{})
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}

// TestRevokeAndCheck: a session, a subject and everyone revoked by the
// command are refused by a running replica of the service within a
// second, and check tells a revoked cookie (exit 3) from one that is not
// (exit 0), with the secrets from the environment or a file.
func TestRevokeAndCheck(t *testing.T) {
	srv := redistest.Start(t)
	vars := map[string]string{"REDIS_ADDR": srv.Addr, "COOKIESESSION_SECRETS": testSecret}
	service := replica(t, srv)
	m, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{[]byte(testSecret)}, Revocations: service})
	require.NoError(t, err)
	valid := func(cookie string) bool {
		in, err := m.Inspect(cookie)
		return err == nil && in != nil
	}

	ada, bob, eve := login(t, "ada"), login(t, "bob"), login(t, "eve")
	code, out, stderr := runCmd(t, vars, ada, "check", "-")
	require.Equal(t, 0, code, stderr)
	var c checked
	require.NoError(t, json.Unmarshal([]byte(out), &c))
	assert.Equal(t, "ada", c.Subject)
	assert.False(t, c.Revoked)

	// One session, by its ID.
	code, out, stderr = runCmd(t, vars, "", "session", c.ID)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, c.ID)
	require.Eventually(t, func() bool { return !valid(ada) }, time.Second, time.Millisecond, "the running replica refuses it")
	code, out, _ = runCmd(t, vars, ada, "check", "-")
	assert.Equal(t, exitRevoked, code)
	assert.Contains(t, out, `"revoked": true`)
	code, _, _ = runCmd(t, vars, "", "check", bob)
	assert.Equal(t, 0, code, "another session is not")

	// A subject, with the secrets from a file and the cookie in a header.
	file := t.TempDir() + "/secrets"
	require.NoError(t, writeFile(file, testSecret+"\n"))
	code, _, stderr = runCmd(t, vars, "", "subject", "bob")
	require.Equal(t, 0, code, stderr)
	require.Eventually(t, func() bool { return !valid(bob) }, time.Second, time.Millisecond)
	noSecrets := map[string]string{"REDIS_ADDR": srv.Addr}
	code, _, stderr = runCmd(t, noSecrets, "", "check", "-secrets-file", file, "-header", "Cookie: "+bob)
	assert.Equal(t, exitRevoked, code, stderr)
	assert.True(t, valid(eve))

	// Everyone: sessions made before it are refused, later ones are not.
	code, _, stderr = runCmd(t, vars, "", "all")
	require.Equal(t, 0, code, stderr)
	require.Eventually(t, func() bool { return !valid(eve) }, time.Second, time.Millisecond)
	code, _, _ = runCmd(t, vars, eve, "check", "-")
	assert.Equal(t, exitRevoked, code)
	time.Sleep(2 * time.Millisecond) // a session made after the revocation
	later := login(t, "later")
	assert.True(t, valid(later))
	code, _, _ = runCmd(t, vars, later, "check", "-")
	assert.Equal(t, 0, code)
}

// TestState: state prints the entries by kind, the bytes and days in
// Redis, and the oldest and newest Until, as JSON.
func TestState(t *testing.T) {
	srv := redistest.Start(t)
	vars := map[string]string{"REDIS_ADDR": srv.Addr}
	code, out, stderr := runCmd(t, vars, "", "state")
	require.Equal(t, 0, code, stderr)
	var empty shown
	require.NoError(t, json.Unmarshal([]byte(out), &empty))
	assert.Equal(t, shown{}, empty)

	for _, args := range [][]string{{"session", "-max-age", "1h", "s-1"}, {"session", "-max-age", "48h", "s-2"}, {"subject", "bob"}, {"all", "-max-age", "24h"}} {
		code, _, stderr := runCmd(t, vars, "", args...)
		require.Equal(t, 0, code, stderr)
	}
	code, out, stderr = runCmd(t, vars, "", "state")
	require.Equal(t, 0, code, stderr)
	var st shown
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	t.Logf("state: %s", out)
	assert.Equal(t, 2, st.Sessions)
	assert.Equal(t, 1, st.Subjects)
	assert.Equal(t, 1, st.Everyone)
	assert.Positive(t, st.Bytes)
	assert.GreaterOrEqual(t, st.Days, 3, "an hour, a day or two, and 400 days ahead")
	assert.WithinDuration(t, time.Now().Add(time.Hour), st.Oldest, time.Minute)
	assert.WithinDuration(t, time.Now().Add(400*24*time.Hour), st.Newest, time.Minute)
	assert.Zero(t, st.Pending)
}

// TestExitCodes: each documented exit status, against a real redis-server
// where one is needed.
func TestExitCodes(t *testing.T) {
	srv := redistest.Start(t)
	vars := map[string]string{"REDIS_ADDR": srv.Addr, "COOKIESESSION_SECRETS": testSecret}
	other := map[string]string{"REDIS_ADDR": srv.Addr, "COOKIESESSION_SECRETS": "another-secret-for-these-tests-0002-not-for-production"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close()
	unreachable := map[string]string{"REDIS_ADDR": closed, "COOKIESESSION_SECRETS": testSecret}
	cookie := login(t, "ada")

	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want int
	}{
		{"no command", vars, nil, exitUsage},
		{"unknown command", vars, []string{"revoke"}, exitUsage},
		{"session without an ID", vars, []string{"session"}, exitUsage},
		{"all with an argument", vars, []string{"all", "now"}, exitUsage},
		{"a prefix with a brace", vars, []string{"all", "-prefix", "a{b"}, exitUsage},
		{"check without secrets", map[string]string{"REDIS_ADDR": srv.Addr}, []string{"check", cookie}, exitUsage},
		{"check with a weak secret", map[string]string{"COOKIESESSION_SECRETS": "short"}, []string{"check", cookie}, exitUsage},
		{"check, secrets that do not verify it", other, []string{"check", cookie}, exitNotVerified},
		{"check, no cookie of that name", vars, []string{"check", "other=" + strings.SplitN(cookie, "=", 2)[1]}, exitNotVerified},
		{"revoke, Redis unreachable", unreachable, []string{"session", "-timeout", "300ms", "s"}, exitRedis},
		{"state, Redis unreachable", unreachable, []string{"state", "-timeout", "300ms"}, exitRedis},
		{"check, not revoked", vars, []string{"check", cookie}, 0},
		{"help", vars, []string{"-h"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.vars, "", tc.args...)
			assert.Equal(t, tc.want, code, stderr)
		})
	}
}

func writeFile(name, text string) error { return os.WriteFile(name, []byte(text), 0o600) }
