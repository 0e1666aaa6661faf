package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
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
	KeyIndex      int                        `json:"key_index"`
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

func inspect(_ context.Context, args []string, e env) error {
	fs := newFlags("inspect", "[-name session] [-keys-file FILE] [-expired] [- | -header 'Cookie: ...' | VALUE]",
		`pbpaste | COOKIESESSION_KEYS=... cookiesession inspect -   # standard input: no cookie in shell history`, e)
	name := fs.String("name", cookiesession.DefaultName, "session cookie `name`")
	keysFile := fs.String("keys-file", "", "read the keys from `FILE` instead of $"+keysEnv)
	header := fs.String("header", "", "a whole Cookie `header` (needed for chunked sessions); prefer - and standard input")
	expired := fs.Bool("expired", false, "show an expired or revoked session whose cookie verifies, marked as no longer valid")
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
		line = strings.TrimSpace(string(b))
		if !hasCookiePrefix(line) {
			line = *name + "=" + line
		}
	case *header == "" && fs.NArg() == 1:
		line = *name + "=" + fs.Arg(0)
	default:
		return usageError{errors.New("give one cookie VALUE, -header 'Cookie: ...', or - to read standard input")}
	}
	if hasCookiePrefix(line) {
		line = strings.TrimSpace(line[len("cookie:"):])
	}

	keys, err := keysFrom(*keysFile, e)
	if err != nil {
		return err
	}
	in, err := open(keys, *name, line)
	if err != nil && (in == nil || !*expired) {
		return err
	}
	out := inspection{
		Cookie:   *name,
		Format:   in.Format.String(),
		KeyIndex: in.KeyIndex,
		Chunks:   in.Chunks,
		Bytes:    in.Bytes,
		ID:       in.ID,
		Subject:  in.Subject,
		Created:  in.Created.UTC(),
		Expires:  in.Expires.UTC(),
		Values:   in.Values,
		Flashes:  in.Flashes,
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

func hasCookiePrefix(s string) bool {
	return len(s) >= len("cookie:") && strings.EqualFold(s[:len("cookie:")], "cookie:")
}

// open verifies the session in a Cookie header in every format: an
// encrypting manager reads both encrypted formats, the others their own.
// When none verifies it, the most telling reason is returned: expired or
// revoked (with the refused session), then no cookie at all, then a weak
// key, then not verified.
func open(keys [][]byte, name, header string) (*cookiesession.Inspection, error) {
	var reasons []error
	var refused *cookiesession.Inspection
	for _, f := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatSignOnly, cookiesession.FormatExpress} {
		m, err := cookiesession.New(cookiesession.Options{
			Keys: keys, Name: name, Format: f, MaxChunks: maxChunks(f),
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
	for _, target := range []error{cookiesession.ErrExpired, cookiesession.ErrRevoked, http.ErrNoCookie, cookiesession.ErrWeakKey} {
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
