package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// inspection is what inspect prints, as indented JSON.
type inspection struct {
	// NoLongerValid, with -expired, says why a request would refuse the
	// session shown.
	NoLongerValid string                     `json:"NO_LONGER_VALID,omitempty"`
	Cookie        string                     `json:"cookie"`
	Format        string                     `json:"format"`
	SecretIndex   int                        `json:"secret_index"`
	Fingerprint   string                     `json:"secret_fingerprint"`
	Chunks        int                        `json:"chunks"`
	Bytes         int                        `json:"encoded_bytes"`
	ID            string                     `json:"id"`
	Subject       string                     `json:"subject,omitempty"`
	Created       time.Time                  `json:"created"`
	Expires       time.Time                  `json:"expires"`
	LastSeen      *time.Time                 `json:"last_seen,omitempty"`
	Values        map[string]json.RawMessage `json:"values"`
	Flashes       []string                   `json:"flashes,omitempty"`
}

// Exit codes of inspect, besides 0 (verified and valid) and 2 (usage).
const (
	exitNotVerified = 1 // no session cookie, or none that the secrets verify
	exitRefused     = 3 // verified, but expired
)

func inspect(_ context.Context, args []string, e env) error {
	fs := newFlags("inspect", "[-name session] [-secrets-file FILE] [-expired] [- | -header 'Cookie: ...' | VALUE | NAME=VALUE]",
		`pbpaste | COOKIESESSION_SECRETS=... cookiesession inspect -   # standard input: no cookie in shell history`, e)
	fs.notes = "exit status: 0 verified and not expired, 1 no cookie or not verified, 2 usage or configuration error, 3 verified but expired\n\n" +
		"inspect sees the cookie only: it does not consult a revocation list, so a session revoked (log out everywhere,\n" +
		"or one session) is still shown valid. For the list redisrevocation shares through Redis, ask it with\n" +
		"cookiesession-revoke check (module github.com/cookiesession/cookiesession/redisrevocation/cmd/cookiesession-revoke)."
	name := fs.String("name", "session", "session cookie `name`; part of the signature, so it must be the one the cookie was set under")
	secretsFile := fs.String("secrets-file", "", "read the secrets from `FILE` (comma- or line-separated) instead of $"+secretsEnv)
	header := fs.String("header", "", "a whole Cookie `header` (needed for chunked sessions); prefer - and standard input")
	expired := fs.Bool("expired", false, "show an expired session whose cookie verifies, marked as no longer valid")
	if err := fs.parse(args); err != nil {
		return err
	}
	var line string
	switch {
	case *header != "" && fs.NArg() == 0:
		line = *header
	case *header == "" && fs.NArg() == 1 && fs.Arg(0) == "-":
		b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return err
		}
		in := strings.TrimSpace(string(b))
		if in == "" {
			return exitError{errors.New("no cookie: standard input is empty"), exitNotVerified}
		}
		line = headerOf(*name, in)
	case *header == "" && fs.NArg() == 1:
		line = headerOf(*name, fs.Arg(0))
	default:
		return usageError{errors.New("give one cookie VALUE or NAME=VALUE, -header 'Cookie: ...', or - to read standard input")}
	}
	if hasCookiePrefix(line) {
		line = strings.TrimSpace(line[len("cookie:"):])
	}
	if n, ok := nameOf(line); ok && *header == "" {
		*name = n // a NAME=VALUE pair names its cookie
	}

	secrets, err := secretsFrom(*secretsFile, e)
	if errors.Is(err, errSecretsUnset) {
		err = fmt.Errorf("%w: set it, or give the secrets in a file with -secrets-file FILE", err)
	}
	if err != nil {
		return usageError{err}
	}
	in, err := open(secrets, *name, line)
	switch {
	case err == nil:
	case errors.Is(err, cookiesession.ErrWeakSecret):
		return usageError{err}
	case errors.Is(err, cookiesession.ErrExpired):
		err = exitError{err, exitRefused}
		if in == nil || !*expired {
			return err
		}
	default:
		return exitError{notVerified(err, *name, line), exitNotVerified}
	}
	out := inspection{
		Cookie:      *name,
		Format:      in.Format.String(),
		SecretIndex: in.SecretIndex,
		Fingerprint: cookiesession.SecretFingerprint(secrets[in.SecretIndex]),
		Chunks:      in.Chunks,
		Bytes:       in.Bytes,
		ID:          in.ID,
		Subject:     in.Subject,
		Created:     in.Created.UTC(),
		Expires:     in.Expires.UTC(),
		Values:      in.Values,
		Flashes:     in.Flashes,
	}
	if !in.LastSeen.IsZero() {
		seen := in.LastSeen.UTC()
		out.LastSeen = &seen
	}
	if err != nil {
		out.NoLongerValid = strings.TrimPrefix(err.Error(), "cookiesession: ")
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(out); encErr != nil {
		return encErr
	}
	return err // still a failure: a request would get a new session
}

// headerOf makes a Cookie header of what was given: a whole header, a
// NAME=VALUE pair, or a bare value of the cookie name.
func headerOf(name, s string) string {
	if hasCookiePrefix(s) {
		return s
	}
	if _, ok := nameOf(s); ok {
		return s
	}
	return name + "=" + s
}

// nameOf returns the name of a single NAME=VALUE pair. Cookie values of
// the base64 formats hold "=" only as padding at their end, so a value
// with nothing but "=" after its first "=" is a bare value.
func nameOf(s string) (string, bool) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || strings.Trim(value, "=") == "" || strings.Contains(s, ";") || strings.ContainsAny(name, " \t,") {
		return "", false
	}
	return name, name != ""
}

// notVerified adds to err what the header held: the cookie names found,
// and that the name is part of the signature.
func notVerified(err error, name, header string) error {
	var names []string
	for _, part := range strings.Split(header, ";") {
		if n, _, ok := strings.Cut(strings.TrimSpace(part), "="); ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if !slices.Contains(names, name) {
		if len(names) == 0 {
			return fmt.Errorf("no cookie named %q here, and no other", name)
		}
		return fmt.Errorf("no cookie named %q here, only %s: give the session's name with -name", name, strings.Join(quoted(names), ", "))
	}
	if errors.Is(err, cookiesession.ErrChunkMissing) {
		return err
	}
	return fmt.Errorf("%w; it was read as the cookie %q, and the name is part of the signature: if it was set under another name, give that with -name", err, name)
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strconv.Quote(n)
	}
	return out
}

func hasCookiePrefix(s string) bool {
	return len(s) >= len("cookie:") && strings.EqualFold(s[:len("cookie:")], "cookie:")
}

// open verifies the session in a Cookie header in every format: an
// encrypting manager reads both encrypted formats, the others their own.
// When none verifies it, the most telling reason is returned: expired
// (with the refused session), then no cookie at all, then a weak secret,
// then not verified. No revocation list is consulted.
func open(keys [][]byte, name, header string) (*cookiesession.Inspection, error) {
	var reasons []error
	var refused *cookiesession.Inspection
	for _, f := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatSignOnly, cookiesession.FormatExpress} {
		m, err := cookiesession.New(cookiesession.Options{
			Secrets: keys, Name: name, Format: f, MaxChunks: maxChunks(f),
			// New warns about short FormatExpress keys; here the weak-key
			// error of the other formats already says it.
			Logger: slog.New(slog.DiscardHandler),
		})
		if err == nil {
			var in *cookiesession.Inspection
			if in, err = m.Inspect(header); err == nil {
				return in, nil
			}
			refused = cmp.Or(refused, in)
		}
		reasons = append(reasons, err)
	}
	for _, target := range []error{cookiesession.ErrExpired, http.ErrNoCookie, cookiesession.ErrWeakSecret} {
		for _, err := range reasons {
			if errors.Is(err, target) {
				return refused, err
			}
		}
	}
	return nil, reasons[0]
}

// maxChunks is the most cookies a session of format f may span: inspect
// reads any session, however it was configured.
func maxChunks(f cookiesession.Format) int {
	if f == cookiesession.FormatExpress {
		return 1
	}
	return 16 // the limit of Options.MaxChunks
}
