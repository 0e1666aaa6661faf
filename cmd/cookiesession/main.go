// Command cookiesession runs a demo server, generates keys and inspects
// session cookies of the cookiesession package.
//
// Usage:
//
//	cookiesession demo [-addr 127.0.0.1:8080] [-max-chunks N] [-format F] [-https | -insecure]
//	cookiesession keygen [-n 2]
//	cookiesession inspect [-name session] [-keys-file F] [-expired] [- | -header 'Cookie: ...' | VALUE]
//
// Keys come from the COOKIESESSION_KEYS environment variable (secrets
// newest first, comma-separated) or, for inspect, a file; never from the
// command line, where they would land in shell history.
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
)

const keysEnv = "COOKIESESSION_KEYS"

const usage = `usage: cookiesession <command> [flags]

commands:
  demo      serve a local site that shows sessions, their cookies and chunking
  keygen    print new secrets for COOKIESESSION_KEYS
  inspect   verify a session cookie and print what it holds

Run 'cookiesession <command> -h' for a command's flags.
`

// env is what a command takes from its surroundings, so tests can run
// commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr, os.Getenv}))
}

// run executes one command and returns the exit code: 0 on success, 1 when
// the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var cmd func(context.Context, []string, env) error
	switch args[0] {
	case "demo":
		cmd = demo
	case "keygen":
		cmd = keygen
	case "inspect":
		cmd = inspect
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return 0
	default:
		fmt.Fprintf(e.stderr, "cookiesession: unknown command %q (want demo, keygen or inspect)\n", args[0])
		return 2
	}
	err := cmd(ctx, args[1:], e)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(e.stderr, "cookiesession %s: %s\n", args[0], strings.TrimPrefix(err.Error(), "cookiesession: "))
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ error }

// flags is a subcommand's flag set with its help text.
type flags struct {
	*flag.FlagSet
	synopsis, example string
	e                 env
}

// newFlags returns a flag set whose -h prints the usage line, the flags
// and an example, and whose errors run reports in one line.
func newFlags(name, synopsis, example string, e env) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // help is printed by parse, errors by run
	return &flags{fs, synopsis, example, e}
}

// parse parses args, prints the help for -h and turns flag errors into
// usage errors.
func (f *flags) parse(args []string) error {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(f.e.stdout, "usage: cookiesession %s %s\n\n", f.Name(), f.synopsis)
		f.SetOutput(f.e.stdout)
		f.PrintDefaults()
		fmt.Fprintf(f.e.stdout, "\nexample:\n  %s\n", f.example)
		return err
	case err != nil:
		return usageError{err}
	}
	return nil
}

// keysFrom returns the keys in the COOKIESESSION_KEYS environment variable
// or, when file is set, in that file (comma- or newline-separated).
func keysFrom(file string, e env) ([][]byte, error) {
	text := e.getenv(keysEnv)
	source := keysEnv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		text, source = string(b), file
	}
	var keys [][]byte
	for _, k := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, []byte(k))
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no keys in %s", source)
	}
	return keys, nil
}
