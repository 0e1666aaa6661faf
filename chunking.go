package cookiesession

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxCookieSize is the default per-cookie budget: the whole
// Set-Cookie line after the header name, "name=value; Path=/; ...", in
// bytes. Chromium and Firefox drop a cookie whose name and value exceed
// 4096 bytes, silently, and older browsers counted the attributes too;
// counting the whole line is never looser than any of them.
const DefaultMaxCookieSize = 4096

// maxChunksLimit caps Options.MaxChunks. Every chunk travels on every
// request, and proxies limit the whole Cookie header to about 8 KB (nginx,
// Apache), so more than a few chunks is already a production risk.
const maxChunksLimit = 16

// ErrTooLarge reports a session that does not fit in the cookies it may
// use. The error returned is a [*SizeError] with the figures, which
// matches ErrTooLarge with errors.Is.
var ErrTooLarge = errors.New("cookiesession: session too large for its cookies")

// SizeError reports a session that does not fit. It matches [ErrTooLarge]
// with errors.Is.
type SizeError struct {
	Size      int // bytes of the encoded session value
	Max       int // bytes of encoded value that MaxChunks cookies can hold
	Budget    int // bytes allowed per Set-Cookie line (Options.MaxCookieSize)
	MaxChunks int // cookies the session may span (Options.MaxChunks)
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("cookiesession: encoded session is %d bytes, but %d cookie(s) of at most %d bytes each hold %d; store less, raise MaxChunks, or use a server-side store",
		e.Size, e.MaxChunks, e.Budget, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true for a *SizeError.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// chunker turns one encoded value into at most len(names) cookie values and
// back. A value that fits one cookie is stored as is, so a single-cookie
// session is a plain securecookie value. A value split into n > 1 chunks
// starts with "n|" in the first cookie, and chunk i goes into names[i]
// ("NAME.i"). The reader thus knows exactly which cookies belong together;
// the MAC covers the joined value, so a missing, swapped or stale chunk
// fails verification.
//
// FormatExpress is the exception: its sealed string is "VALUE.SIG", stored
// as NAME=VALUE and NAME.sig=SIG the way Express's cookies library does,
// and never chunked, since Express could not join chunks.
type chunker struct {
	names   []string // names[0] is the cookie name, names[i] "NAME.i"
	budget  int      // Options.MaxCookieSize
	attrLen int      // bytes of the attributes but Max-Age, from "; Path=/" on
	express bool     // names are NAME and NAME.sig
}

func newChunker(name string, maxChunks, budget, attrLen int) chunker {
	names := make([]string, maxChunks)
	names[0] = name
	for i := 1; i < maxChunks; i++ {
		names[i] = name + "." + strconv.Itoa(i)
	}
	return chunker{names: names, budget: budget, attrLen: attrLen}
}

func newExpressChunker(name string, budget, attrLen int) chunker {
	return chunker{names: []string{name, name + ".sig"}, budget: budget, attrLen: attrLen, express: true}
}

// room returns how many value bytes cookie i can hold when its Max-Age
// attribute (if any) takes extra bytes.
func (c *chunker) room(i, extra int) int {
	return c.budget - len(c.names[i]) - len("=") - c.attrLen - extra
}

// capacity returns how many value bytes n cookies hold together.
func (c *chunker) capacity(n, extra int) int {
	if n == 1 {
		return c.room(0, extra)
	}
	total := -len(strconv.Itoa(n)) - len("|")
	for i := range n {
		total += c.room(i, extra)
	}
	return total
}

// split returns the cookie values for value, or a *SizeError.
func (c *chunker) split(value string, extra int) ([]string, error) {
	if c.express {
		dot := strings.LastIndexByte(value, '.')
		if room := c.room(0, extra); dot > room {
			return nil, &SizeError{Size: dot, Max: room, Budget: c.budget, MaxChunks: 1}
		}
		return []string{value[:dot], value[dot+1:]}, nil
	}
	n := 1
	for n <= len(c.names) && c.capacity(n, extra) < len(value) {
		n++
	}
	if n > len(c.names) {
		return nil, &SizeError{Size: len(value), Max: c.capacity(len(c.names), extra), Budget: c.budget, MaxChunks: len(c.names)}
	}
	if n == 1 {
		return []string{value}, nil
	}
	parts := make([]string, n)
	prefix := strconv.Itoa(n) + "|"
	cut := c.room(0, extra) - len(prefix)
	parts[0], value = prefix+value[:cut], value[cut:]
	for i := 1; i < n; i++ {
		cut = min(c.room(i, extra), len(value))
		parts[i], value = value[:cut], value[cut:]
	}
	return parts, nil
}

// received is what one request carries of a session's cookies.
type received struct {
	parts   []string // parts[i] is the value of names[i]
	present uint32   // bit i set: names[i] was sent
	foreign []string // chunk names this configuration never writes, to clear
	err     error    // why the set cannot be a session, found while scanning
}

// maxForeign bounds how many unexpected chunk cookies one response clears,
// so a hostile request cannot make the response large.
const maxForeign = 8

// scan collects the session's cookies from Cookie header lines in one pass
// over the bytes, without allocating for other cookies. It does the work
// of net/http's cookie parsing restricted to our names, because the
// standard parser builds every cookie of the request, drops all of them
// when there are more than GODEBUG httpcookiemaxnum, and cannot report a
// name that was sent twice.
func (c *chunker) scan(lines []string) received {
	r := received{parts: make([]string, len(c.names))}
	size := 0
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			i, ours := c.index(name)
			switch {
			case !ours:
				continue
			case i < 0:
				if len(r.foreign) < maxForeign {
					r.foreign = append(r.foreign, name)
				}
				r.fail(fmt.Errorf("%w: unexpected chunk cookie %q (MaxChunks is %d)", ErrInvalid, name, len(c.names)))
				continue
			case r.present&(1<<i) != 0:
				r.fail(fmt.Errorf("%w: cookie %q sent twice", ErrInvalid, name))
				continue
			}
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			r.present |= 1 << i
			r.parts[i] = value
			size += len(value)
		}
	}
	// Bound the work before any base64 or crypto runs: no value we wrote
	// can exceed what MaxChunks cookies of the budget hold.
	if limit := len(c.names) * c.budget; size > limit {
		r.fail(fmt.Errorf("%w: %d bytes of session cookies, more than the %d this configuration writes", ErrInvalid, size, limit))
	}
	return r
}

func (r *received) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// index reports whether name is one of the session's cookie names and, if
// so, its chunk index, or -1 for a chunk name beyond MaxChunks (or with a
// leading zero) that this configuration never writes.
func (c *chunker) index(name string) (int, bool) {
	base := c.names[0]
	switch {
	case name == base:
		return 0, true
	case c.express:
		return 1, name == c.names[1]
	}
	if len(name) < len(base)+2 || name[len(base)] != '.' || name[:len(base)] != base {
		return 0, false
	}
	digits := name[len(base)+1:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false // e.g. "NAME.sig": not ours
		}
	}
	if digits[0] == '0' || len(digits) > 2 {
		return -1, true
	}
	i, _ := strconv.Atoi(digits)
	if i >= len(c.names) {
		return -1, true
	}
	return i, true
}

// join returns the encoded value the cookies carry and how many cookies it
// spans; ("", 0, nil) when the request carries no session.
func (c *chunker) join(r *received) (string, int, error) {
	if r.err != nil {
		return "", 0, r.err
	}
	if r.present&1 == 0 {
		if r.present != 0 {
			return "", 0, fmt.Errorf("%w: chunk cookies without %q", ErrInvalid, c.names[0])
		}
		return "", 0, nil
	}
	head := r.parts[0]
	if c.express {
		if r.present&2 == 0 {
			return "", 0, fmt.Errorf("%w: no %q cookie", ErrInvalid, c.names[1])
		}
		return head + "." + r.parts[1], 2, nil
	}
	bar := strings.IndexByte(head, '|')
	if bar < 0 {
		return head, 1, nil
	}
	n := parseCount(head[:bar])
	if n < 2 || n > len(c.names) {
		// The prefix is attacker-controlled content: its length only.
		return "", 0, fmt.Errorf("%w: chunk count (%d bytes) is not a number in 2..%d", ErrInvalid, bar, len(c.names))
	}
	size := len(head) - bar - 1
	for i := 1; i < n; i++ {
		if r.present&(1<<i) == 0 {
			return "", 0, fmt.Errorf("%w: chunk %q of %d missing", ErrInvalid, c.names[i], n)
		}
		size += len(r.parts[i])
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(head[bar+1:])
	for i := 1; i < n; i++ {
		b.WriteString(r.parts[i])
	}
	return b.String(), n, nil
}

// parseCount parses a chunk count of one or two digits, or returns -1.
func parseCount(s string) int {
	if len(s) == 0 || len(s) > 2 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
