// Command cookiesession-revoke acts on the revocation list that
// redisrevocation shares through Redis, for the day of an incident: it
// revokes a session, a subject or everyone, at once on every replica of
// the service, without a deploy; it checks whether a cookie is revoked
// by the list; and it prints what the list holds.
//
// Usage:
//
//	cookiesession-revoke session [flags] ID
//	cookiesession-revoke subject [flags] SUBJECT
//	cookiesession-revoke all [flags]
//	cookiesession-revoke check [flags] [-name session] [-secrets-file F] [- | -header 'Cookie: ...' | VALUE | NAME=VALUE]
//	cookiesession-revoke state [flags]
//
// Redis is given by flags or the environment: -addr or REDIS_ADDR (host:port,
// comma-separated for Sentinels or Cluster nodes), -sentinel-master or
// REDIS_SENTINEL_MASTER, -cluster, -user or REDIS_USERNAME, -tls, and the
// password only in REDIS_PASSWORD, never on the command line. -prefix (or
// COOKIESESSION_REVOCATION_PREFIX) is the service's Options.Prefix. check
// takes the secrets as cookiesession inspect does: COOKIESESSION_SECRETS or
// -secrets-file.
//
// Exit status: 0 done (for check: verified and not revoked); 1 for check,
// no cookie or none the secrets verify; 2 a usage or configuration error;
// 3 for check, revoked by the shared list; 4 Redis unreachable, refused
// what the list needs, or did not take the revocation (run it again: a
// revocation is the same entry however often it is made).
//
// It is a module of its own, on go-redis, so that neither the
// cookiesession module nor a service's build ever includes it.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/redis/go-redis/v9"
)

// Exit codes besides 0.
const (
	exitNotVerified = 1
	exitUsage       = 2
	exitRevoked     = 3
	exitRedis       = 4
)

const usage = `usage: cookiesession-revoke <command> [flags] [argument]

commands:
  session ID       revoke one session, by its ID, on every replica
  subject SUBJECT  revoke every session of a subject made until now
  all              revoke every session made until now
  check COOKIE     tell whether a cookie is revoked by the shared list
  state            print what the list holds in Redis

exit status: 0 done (check: not revoked), 1 check: no cookie or not verified,
2 usage or configuration error, 3 check: revoked, 4 Redis unreachable or
refused, or the revocation is not shared.
Run 'cookiesession-revoke <command> -h' for a command's flags.
`

// env is what the command takes from its surroundings, so that tests run
// it in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

// exitError carries an exit code other than 1.
type exitError struct {
	err  error
	code int
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// quiet drops go-redis's own log lines (one per failed dial): the
// command's error says once what failed.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quiet{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr, os.LookupEnv}))
}

// run executes one command and returns its exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	cmds := map[string]func(context.Context, []string, env) error{
		"session": revokeCmd("session"), "subject": revokeCmd("subject"), "all": revokeCmd("all"),
		"check": check, "state": state,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "cookiesession-revoke: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	err := cmd(ctx, args[1:], e)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.stderr, "cookiesession-revoke %s: %v\n", args[0], err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func usageError(format string, a ...any) error {
	return exitError{fmt.Errorf(format, a...), exitUsage}
}

// redisFlags are the flags every command takes to reach the list.
type redisFlags struct {
	addr, master, user, prefix string
	cluster, tls               bool
	timeout                    time.Duration
	waitReplicas               int
	e                          env
}

// newFlags returns a command's flag set, with the flags to reach the list.
func newFlags(name string, e env) (*flag.FlagSet, *redisFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	r := &redisFlags{e: e}
	get := func(name string) string { v, _ := e.lookupEnv(name); return v }
	fs.StringVar(&r.addr, "addr", cmp.Or(get("REDIS_ADDR"), "127.0.0.1:6379"), "Redis `host:port`, comma-separated for Sentinels or Cluster nodes ($REDIS_ADDR)")
	fs.StringVar(&r.master, "sentinel-master", get("REDIS_SENTINEL_MASTER"), "the Sentinels' `name` for the primary; -addr then lists Sentinels ($REDIS_SENTINEL_MASTER)")
	fs.BoolVar(&r.cluster, "cluster", false, "-addr is a Redis Cluster (implied by several addresses without -sentinel-master)")
	fs.StringVar(&r.user, "user", get("REDIS_USERNAME"), "Redis ACL `user` ($REDIS_USERNAME); the password comes from $REDIS_PASSWORD only")
	fs.BoolVar(&r.tls, "tls", false, "connect with TLS")
	fs.StringVar(&r.prefix, "prefix", get("COOKIESESSION_REVOCATION_PREFIX"), "the service's redisrevocation Options.Prefix ($COOKIESESSION_REVOCATION_PREFIX; the default when empty)")
	fs.DurationVar(&r.timeout, "timeout", 10*time.Second, "how long to wait for Redis to load the list and take a revocation")
	fs.IntVar(&r.waitReplicas, "wait-replicas", 0, "Redis replicas that must hold a revocation before it counts as shared (Options.WaitReplicas)")
	return fs, r
}

// open connects and loads the list. The caller closes both.
func (r *redisFlags) open(ctx context.Context) (*redisrevocation.List, func(), error) {
	password, _ := r.e.lookupEnv("REDIS_PASSWORD")
	opts := &redis.UniversalOptions{
		Addrs: strings.Split(r.addr, ","), MasterName: r.master, IsClusterMode: r.cluster,
		Username: r.user, Password: password, ContextTimeoutEnabled: true,
	}
	if r.tls {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	client := redis.NewUniversalClient(opts)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	list, err := redisrevocation.New(ctx, goredisdriver.New(client), redisrevocation.Options{
		Prefix: r.prefix, WaitReplicas: r.waitReplicas, Timeout: r.timeout,
		Logger: slog.New(slog.NewTextHandler(r.e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		client.Close()
		if strings.Contains(err.Error(), "holds a brace") {
			return nil, nil, exitError{err, exitUsage}
		}
		return nil, nil, exitError{err, exitRedis}
	}
	return list, func() { list.Close(); client.Close() }, nil
}

// revokeCmd revokes a session, a subject or everyone.
func revokeCmd(kind string) func(context.Context, []string, env) error {
	return func(ctx context.Context, args []string, e env) error {
		fs, r := newFlags(kind, e)
		maxAge := fs.Duration("max-age", 400*24*time.Hour, "the longest a session of the service lives (its Options.MaxAge): how long the entry is kept")
		if err := fs.Parse(args); err != nil {
			return exitError{err, exitUsage}
		}
		want := 1
		if kind == "all" {
			want = 0
		}
		if fs.NArg() != want || want == 1 && fs.Arg(0) == "" {
			return usageError("give %s", map[string]string{"session": "one session ID", "subject": "one subject", "all": "no argument"}[kind])
		}
		now := time.Now()
		var rev cookiesession.Revocation
		switch kind {
		case "session":
			rev = cookiesession.SessionRevocation(fs.Arg(0), now.Add(*maxAge))
		case "subject":
			rev = cookiesession.SubjectRevocation(fs.Arg(0), now, now.Add(*maxAge))
		default:
			rev = cookiesession.AllRevocation(now, now.Add(*maxAge))
		}
		list, closeList, err := r.open(ctx)
		if err != nil {
			return err
		}
		defer closeList()
		ctx, cancel := context.WithTimeout(ctx, r.timeout)
		defer cancel()
		if err := list.Revoke(ctx, rev); err != nil {
			// Close gives it one last try, and logs at ERROR if that
			// fails too; either way the operator should run it again.
			return exitError{fmt.Errorf("not taken by Redis, so no replica may enforce it; run the command again: %w", err), exitRedis}
		}
		fmt.Fprintf(e.stdout, "revoked %s on every replica of the list, kept until %s\n", describe(rev), rev.Until.UTC().Format(time.RFC3339))
		return nil
	}
}

func describe(r cookiesession.Revocation) string {
	switch {
	case r.SessionID != "":
		return fmt.Sprintf("session %q", r.SessionID)
	case r.Subject != "":
		return fmt.Sprintf("the sessions of subject %q made before %s", r.Subject, r.Before.UTC().Format(time.RFC3339))
	}
	return "every session made before " + r.Before.UTC().Format(time.RFC3339)
}

// checked is what check prints.
type checked struct {
	ID      string    `json:"id"`
	Subject string    `json:"subject,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Expired bool      `json:"expired"`
	Revoked bool      `json:"revoked"`
}

// check tells whether a cookie is revoked by the shared list.
func check(ctx context.Context, args []string, e env) error {
	fs, r := newFlags("check", e)
	name := fs.String("name", "session", "session cookie `name`; part of the signature")
	secretsFile := fs.String("secrets-file", "", "read the secrets from `FILE` instead of $COOKIESESSION_SECRETS")
	header := fs.String("header", "", "a whole Cookie `header` (needed for chunked sessions); prefer - and standard input")
	if err := fs.Parse(args); err != nil {
		return exitError{err, exitUsage}
	}
	var line string
	switch {
	case *header != "" && fs.NArg() == 0:
		line = strings.TrimSpace(strings.TrimPrefix(*header, "Cookie:"))
	case *header == "" && fs.NArg() == 1 && fs.Arg(0) == "-":
		b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return err
		}
		line = strings.TrimSpace(string(b))
	case *header == "" && fs.NArg() == 1:
		line = fs.Arg(0)
	default:
		return usageError("give one cookie VALUE or NAME=VALUE, -header 'Cookie: ...', or - to read standard input")
	}
	if !strings.Contains(line, "=") || strings.Trim(line[strings.Index(line, "=")+1:], "=") == "" {
		line = *name + "=" + line // a bare value, whose only "=" are padding
	}
	secrets, err := secretsOf(*secretsFile, e)
	if err != nil {
		return exitError{err, exitUsage}
	}
	in, err := verify(secrets, *name, line)
	if err != nil {
		if errors.Is(err, cookiesession.ErrWeakSecret) {
			return exitError{err, exitUsage}
		}
		return exitError{err, exitNotVerified}
	}
	list, closeList, err := r.open(ctx)
	if err != nil {
		return err
	}
	defer closeList()
	out := checked{ID: in.ID, Subject: in.Subject, Created: in.Created.UTC(), Expires: in.Expires.UTC(), Expired: !time.Now().Before(in.Expires)}
	out.Revoked = list.Revoked(ctx, cookiesession.SessionInfo{ID: in.ID, Subject: in.Subject, Created: in.Created, Expires: in.Expires})
	if err := printJSON(e.stdout, out); err != nil {
		return err
	}
	if out.Revoked {
		return exitError{errors.New("revoked by the shared list"), exitRevoked}
	}
	return nil
}

func secretsOf(file string, e env) ([][]byte, error) {
	if file != "" {
		return cookiesession.SecretsFromFile(file)
	}
	text, ok := e.lookupEnv("COOKIESESSION_SECRETS")
	if !ok {
		return nil, errors.New("no secrets: set COOKIESESSION_SECRETS or give -secrets-file")
	}
	return cookiesession.ParseSecrets(text, "COOKIESESSION_SECRETS")
}

// verify reads the session in a Cookie header, in whichever format it
// was sealed: expired or not, since an expired session's entry may still
// be asked about. It does not consult any revocation list.
func verify(secrets [][]byte, name, header string) (*cookiesession.Inspection, error) {
	var errs []error
	for _, f := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatSignOnly, cookiesession.FormatExpress} {
		maxChunks := 16
		if f == cookiesession.FormatExpress {
			maxChunks = 1
		}
		m, err := cookiesession.New(cookiesession.Options{Secrets: secrets, Name: name, Format: f, MaxChunks: maxChunks,
			Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			in, ierr := m.Inspect(header)
			if in != nil && (ierr == nil || errors.Is(ierr, cookiesession.ErrExpired)) {
				return in, nil
			}
			err = ierr
		}
		errs = append(errs, err)
	}
	for _, err := range errs {
		if errors.Is(err, cookiesession.ErrWeakSecret) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no %q cookie the secrets verify: %w", name, errs[0])
}

// shown is what state prints.
type shown struct {
	Sessions int       `json:"session_entries"`
	Subjects int       `json:"subject_entries"`
	Everyone int       `json:"everyone_entries"`
	Bytes    int64     `json:"bytes_in_redis"`
	Strings  int       `json:"strings"`
	Days     int       `json:"days"`
	Oldest   time.Time `json:"oldest_until,omitzero"`
	Newest   time.Time `json:"newest_until,omitzero"`
	Pending  int       `json:"pending_shares"`
}

// state prints what the list holds in Redis.
func state(ctx context.Context, args []string, e env) error {
	fs, r := newFlags("state", e)
	if err := fs.Parse(args); err != nil {
		return exitError{err, exitUsage}
	}
	if fs.NArg() != 0 {
		return usageError("state takes no argument")
	}
	list, closeList, err := r.open(ctx)
	if err != nil {
		return err
	}
	defer closeList()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	st, err := list.State(ctx)
	if err != nil {
		return exitError{err, exitRedis}
	}
	return printJSON(e.stdout, shown{st.Sessions, st.Subjects, st.Everyone, st.Bytes, st.Strings, st.Days, st.Oldest.UTC(), st.Newest.UTC(), st.Pending})
}

// printJSON prints v as indented JSON, as cookiesession inspect does.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
