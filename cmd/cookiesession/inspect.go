package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// inspection is what inspect prints, as indented JSON.
type inspection struct {
	Cookie   string                     `json:"cookie"`
	Format   string                     `json:"format"`
	KeyIndex int                        `json:"key_index"`
	Chunks   int                        `json:"chunks"`
	Bytes    int                        `json:"encoded_bytes"`
	ID       string                     `json:"id"`
	Subject  string                     `json:"subject,omitempty"`
	Created  time.Time                  `json:"created"`
	Expires  time.Time                  `json:"expires"`
	LastSeen *time.Time                 `json:"last_seen,omitempty"`
	Values   map[string]json.RawMessage `json:"values"`
	Flashes  []string                   `json:"flashes,omitempty"`
}

func inspect(_ context.Context, args []string, e env) error {
	fs := newFlags("inspect", "[-name session] [-keys-file FILE] [VALUE | -header 'Cookie: ...' | -]",
		`COOKIESESSION_KEYS=... cookiesession inspect -header "Cookie: session=MTc2...; session.1=..."`, e)
	name := fs.String("name", cookiesession.DefaultName, "session cookie `name`")
	keysFile := fs.String("keys-file", "", "read the keys from `FILE` instead of $"+keysEnv)
	header := fs.String("header", "", "a whole Cookie `header` (needed for chunked sessions)")
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
	if err != nil {
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
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func hasCookiePrefix(s string) bool {
	return len(s) >= len("cookie:") && strings.EqualFold(s[:len("cookie:")], "cookie:")
}

// open verifies the session in a Cookie header in every format: an
// encrypting manager reads both encrypted formats, the others their own.
// When none verifies it, the most telling reason is returned: expired or
// revoked, then no cookie at all, then a weak key, then not verified.
func open(keys [][]byte, name, header string) (*cookiesession.Inspection, error) {
	var reasons []error
	for _, f := range []cookiesession.Format{cookiesession.FormatSecureCookie, cookiesession.FormatSignOnly, cookiesession.FormatExpress} {
		m, err := cookiesession.New(cookiesession.Options{Keys: keys, Name: name, Format: f, MaxChunks: maxChunks(f)})
		if err == nil {
			var in *cookiesession.Inspection
			if in, err = m.Inspect(header); err == nil {
				return in, nil
			}
		}
		reasons = append(reasons, err)
	}
	for _, target := range []error{cookiesession.ErrExpired, cookiesession.ErrRevoked, http.ErrNoCookie, cookiesession.ErrWeakKey} {
		for _, err := range reasons {
			if errors.Is(err, target) {
				return nil, err
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
