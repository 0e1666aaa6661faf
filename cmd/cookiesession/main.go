// Command cookiesession runs a demo server, generates secrets and inspects
// session cookies of the cookiesession package.
//
// Usage:
//
//	cookiesession demo [-addr 127.0.0.1:8080] [-max-chunks N] [-format F] [-secrets-file FILE] [-https | -insecure]
//	cookiesession secret
//	cookiesession inspect [-name session] [-secrets-file F] [-expired] [- | -header 'Cookie: ...' | VALUE | NAME=VALUE]
//
// Secrets come from the COOKIESESSION_SECRETS environment variable (newest
// first, comma-separated) or a file (-secrets-file); never from the command
// line, where they would land in shell history.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cookiesession/cookiesession"
)

const secretsEnv = "COOKIESESSION_SECRETS"

const usage = `usage: cookiesession <command> [flags]

commands:
  demo      serve a local site that shows sessions, their cookies and chunking
  secret    print a new secret for COOKIESESSION_SECRETS
  inspect   verify a session cookie and print what it holds

Run 'cookiesession <command> -h' for a command's flags.
`

// env is what a command takes from its surroundings, so tests can run
// commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr, os.LookupEnv}))
}

// run executes one command and returns the exit code: 0 on success, 1 when
// the command failed, 2 for a usage error, or the code an exitError names.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var cmd func(context.Context, []string, env) error
	switch args[0] {
	case "demo":
		cmd = demo
	case "secret":
		cmd = secret
	case "inspect":
		cmd = inspect
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return 0
	default:
		fmt.Fprintf(e.stderr, "cookiesession: unknown command %q (want demo, secret or inspect)\n", args[0])
		return 2
	}
	err := cmd(ctx, args[1:], e)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.stderr, "cookiesession %s: %s\n", args[0], strings.TrimPrefix(err.Error(), "cookiesession: "))
	var exit exitError
	switch {
	case errors.As(err, new(usageError)):
		return 2
	case errors.As(err, &exit):
		return exit.code
	}
	return 1
}

// exitError ends the command with a code of its own.
type exitError struct {
	error
	code int
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ error }

// flags is a subcommand's flag set with its help text.
type flags struct {
	*flag.FlagSet
	synopsis, example string
	notes             string // printed after the example, if set
	e                 env
}

// newFlags returns a flag set whose -h prints the usage line, the flags
// and an example, and whose errors run reports in one line.
func newFlags(name, synopsis, example string, e env) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // help is printed by parse, errors by run
	return &flags{FlagSet: fs, synopsis: synopsis, example: example, e: e}
}

// parse parses args, prints the help for -h and turns flag errors into
// usage errors.
func (f *flags) parse(args []string) error {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(f.e.stdout, "usage: %s\n", strings.TrimSpace("cookiesession "+f.Name()+" "+f.synopsis))
		f.SetOutput(f.e.stdout)
		hasFlags := false
		f.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(f.e.stdout)
			f.PrintDefaults()
		}
		fmt.Fprintf(f.e.stdout, "\nexample:\n  %s\n", f.example)
		if f.notes != "" {
			fmt.Fprintf(f.e.stdout, "\n%s\n", f.notes)
		}
		return err
	case err != nil:
		return usageError{fmt.Errorf("%w (see cookiesession %s -h)", err, f.Name())}
	}
	return nil
}

// errSecretsUnset: COOKIESESSION_SECRETS is not set at all.
var errSecretsUnset = errors.New(secretsEnv + " is not set")

// secretsFrom returns the secrets in the COOKIESESSION_SECRETS environment
// variable or, when file is set, in that file, by the rules of
// cookiesession.ParseSecrets.
func secretsFrom(file string, e env) ([][]byte, error) {
	if file != "" {
		return cookiesession.SecretsFromFile(file)
	}
	text, ok := e.lookupEnv(secretsEnv)
	if !ok {
		return nil, errSecretsUnset
	}
	return cookiesession.ParseSecrets(text, secretsEnv)
}
