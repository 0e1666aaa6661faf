package cookiesession

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// defaultMaxCookieSize is the default per-cookie budget: the whole
// Set-Cookie line after the header name, "name=value; Path=/; ...", in
// bytes. Chromium and Firefox drop a cookie whose name and value exceed
// 4096 bytes, silently, and older browsers counted the attributes too;
// counting the whole line is never looser than any of them.
const defaultMaxCookieSize = 4096

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

// Error names the encoded size, the chunk limit, the per-cookie budget and
// what they hold together, and what to do about it.
func (e *SizeError) Error() string {
	return fmt.Sprintf("cookiesession: encoded session is %d bytes, but %d cookie(s) of at most %d bytes each hold %d; store less, raise MaxChunks, or use a server-side store",
		e.Size, e.MaxChunks, e.Budget, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true for a *SizeError.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// chunker turns one encoded value into at most max cookie values and back.
// A value that fits one cookie is stored as is, so a single-cookie session
// is a plain securecookie value. A value split into n > 1 chunks starts
// with "n|" in the first cookie, and chunk i goes into names[i] ("NAME.i").
// The reader thus knows exactly which cookies belong together; the MAC
// covers the joined value, so a missing, swapped or stale chunk fails
// verification.
//
// names holds every name any configuration writes (up to maxChunksLimit),
// not only the first max, and all are read: a session written by a
// Manager with a larger MaxChunks (a replica not yet reconfigured) is
// read, and only writing keeps to max. A chunk the session read does not
// use is a leftover, which the response deletes.
//
// FormatExpress is the exception: its sealed string is "VALUE.SIG", stored
// as NAME=VALUE and NAME.sig=SIG the way Express's cookies library does,
// and never chunked, since Express could not join chunks.
//
// Formats of other stacks name their chunks as Traits.Chunks says. With
// ChunksIndexed (Auth.js, iron-session), names[0] is NAME, for a value
// that fits one cookie, and names[i] is "NAME.<i-1>": a value of n > 1
// cookies lies in names[1] to names[n], with no count, and is every chunk
// up to the first index missing. With ChunksNone the value is taken
// whole, whatever it holds.
type chunker struct {
	names   []string // names[0] is the cookie name, names[i] "NAME.i"
	max     int      // how many cookies of one value this configuration writes
	budget  int      // Options.MaxCookieSize
	attrLen int      // bytes of the attributes but Max-Age, from "; Path=/" on
	express bool     // names are NAME and NAME.sig
	indexed bool     // ChunksIndexed
	whole   bool     // ChunksNone: a value is never split, so never parsed for a count
}

func newChunker(name string, maxChunks, budget, attrLen int) chunker {
	names := make([]string, maxChunksLimit)
	names[0] = name
	for i := 1; i < maxChunksLimit; i++ {
		names[i] = name + "." + strconv.Itoa(i)
	}
	return chunker{names: names, max: maxChunks, budget: budget, attrLen: attrLen}
}

// newLayoutChunker returns the chunker of a format of another stack.
func newLayoutChunker(name string, layout ChunkNaming, maxChunks, budget, attrLen int) chunker {
	switch layout {
	case ChunksCounted:
		return newChunker(name, maxChunks, budget, attrLen)
	case ChunksNone:
		c := newChunker(name, 1, budget, attrLen)
		c.whole = true
		return c
	}
	names := make([]string, maxChunksLimit+1)
	names[0] = name
	for i := range maxChunksLimit {
		names[i+1] = name + "." + strconv.Itoa(i)
	}
	return chunker{names: names, max: maxChunks, budget: budget, attrLen: attrLen, indexed: true}
}

// occupies returns the set of names (bit i: names[i]) that a value of n
// cookies is stored in.
func (c *chunker) occupies(n int) uint32 {
	if c.indexed && n > 1 {
		return 1<<(n+1) - 2 // names[1] to names[n]
	}
	return 1<<n - 1
}

// first is the index in names of the first cookie of an n-cookie value.
func (c *chunker) first(n int) int {
	if c.indexed && n > 1 {
		return 1
	}
	return 0
}

func newExpressChunker(name string, budget, attrLen int) chunker {
	return chunker{names: []string{name, name + ".sig"}, max: 2, budget: budget, attrLen: attrLen, express: true}
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
	if c.indexed {
		total = 0
	}
	for i := range n {
		total += c.room(c.first(n)+i, extra)
	}
	return total
}

// cookieLines appends to dst the Set-Cookie line of each cookie value
// takes, or returns a *SizeError. value is a string, or the bytes the
// compact format encodes into: each line is then made straight from them,
// with no string of the whole value in between. maxAge is in seconds, 0
// for a browser-session cookie.
func cookieLines[V string | []byte](m *Manager, dst []string, value V, maxAge int) ([]string, error) {
	var buf [32]byte
	age := appendMaxAge(buf[:0], maxAge) // once, for the sizes and every line
	c, extra := &m.chunks, len(age)
	if c.express {
		dot := len(value) - 1 // strings.LastIndexByte, which takes no []byte
		for dot >= 0 && value[dot] != '.' {
			dot--
		}
		if room := c.room(0, extra); dot > room {
			return nil, &SizeError{Size: dot, Max: room, Budget: c.budget, MaxChunks: 1}
		}
		return append(dst, setCookie(m, c.names[0], "", value[:dot], age), setCookie(m, c.names[1], "", value[dot+1:], age)), nil
	}
	n := 1
	for n <= c.max && c.capacity(n, extra) < len(value) {
		n++
	}
	if n > c.max {
		return nil, &SizeError{Size: len(value), Max: c.capacity(c.max, extra), Budget: c.budget, MaxChunks: c.max}
	}
	prefix := ""
	if n > 1 && !c.indexed {
		prefix = strconv.Itoa(n) + "|"
	}
	for i := c.first(n); i < c.first(n)+n; i++ {
		cut := min(c.room(i, extra)-len(prefix), len(value))
		dst = append(dst, setCookie(m, c.names[i], prefix, value[:cut], age))
		value, prefix = value[cut:], ""
	}
	return dst, nil
}

// Bounds on what one request can make the reader do. A browser sends two
// cookies of one name when a sibling subdomain sets it for the parent
// domain (cookie tossing), so a few distinct values per name are normal;
// more is an attack, and the request gets a new session.
const (
	maxCandidates = 4 // distinct values kept per cookie name
	maxTries      = 8 // chunk combinations verified per request
	// maxJoined bounds the bytes of all combinations tried, as a multiple
	// of the bytes received: each is decoded and checked by every key, so
	// without it a few extra chunk values would make the server verify
	// eight 64 KB joins per 80 KB of header. Three times is enough for a
	// junk cookie tossed under any one chunk name, or under every name of
	// a session of up to three chunks.
	maxJoined = 3
)

// Why a set of cookies gives no session. They are built once: a hostile
// header can name our cookies thousands of times, and only the reason
// matters, never the attacker's text.
var (
	errManyValues   = fmt.Errorf("%w: more than %d different values for one session cookie name", ErrInvalid, maxCandidates)
	errManyCombos   = fmt.Errorf("%w: more than %d ways to join the session cookies", ErrInvalid, maxTries)
	errJoinedTooBig = fmt.Errorf("%w: the ways to join the session cookies hold more than %d times their bytes", ErrInvalid, maxJoined)
	errOversized    = fmt.Errorf("%w: a session cookie longer than any configuration writes", ErrInvalid)
	errNoHead       = fmt.Errorf("%w: the first cookie, which the others came without", ErrChunkMissing)
	errBadCount     = fmt.Errorf("%w: chunk count is not a number any configuration writes", ErrInvalid)
	errTwoSessions  = fmt.Errorf("%w: two different valid sessions under one name (a tossed cookie?)", ErrInvalid)
)

// candidate is one distinct value received for names[i].
type candidate struct {
	i     int
	value string
}

// received is what one request carries of a session's cookies.
type received struct {
	values  []candidate               // in the order sent; at most maxCandidates per name
	count   [maxChunksLimit + 1]uint8 // ChunksIndexed names one more
	present uint32                    // bit i set: names[i] was sent, whatever its value
	err     error                     // why the set cannot be a session, found while scanning
}

// scan collects the session's cookies from Cookie header lines in one pass
// over the bytes, without allocating for other cookies. It does the work
// of net/http's cookie parsing restricted to our names, because the
// standard parser builds every cookie of the request, drops all of them
// when there are more than GODEBUG httpcookiemaxnum, and cannot report a
// name that was sent twice.
//
// The work is linear in the header's length: each cookie of ours is
// compared with at most maxCandidates earlier values of at most 4096
// bytes, and what is kept is bounded by maxChunksLimit × maxCandidates ×
// 4096 bytes, whatever this configuration writes.
func (c *chunker) scan(r *received, lines []string) {
	r.values = make([]candidate, 0, c.max)
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			i := c.index(name)
			if i < 0 {
				continue
			}
			r.present |= 1 << i
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			switch {
			case len(value) > defaultMaxCookieSize:
				r.fail(errOversized)
			case r.has(i, value):
			case r.count[i] == maxCandidates:
				r.fail(errManyValues)
			default:
				r.values = append(r.values, candidate{i, value})
				r.count[i]++
			}
		}
	}
}

// headerBytes returns about how many bytes of Cookie header the values
// received take, with their names and separators.
func (r *received) headerBytes(c *chunker) int {
	n := 0
	for _, v := range r.values {
		n += len(c.names[v.i]) + len("=; ") + len(v.value)
	}
	return n
}

func (r *received) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// has reports whether value was already received for names[i].
func (r *received) has(i int, value string) bool {
	if r.count[i] == 0 {
		return false
	}
	for _, v := range r.values {
		if v.i == i && v.value == value {
			return true
		}
	}
	return false
}

// index returns the chunk index of name, or -1 when the name is not one
// that any configuration of this cookie writes: not NAME, and not NAME.i
// for a canonical i below maxChunksLimit ("NAME.01", "NAME.99" and
// "NAME.sig" belong to someone else and are left alone).
func (c *chunker) index(name string) int {
	base := c.names[0]
	switch {
	case name == base:
		return 0
	case c.express:
		if name == c.names[1] {
			return 1
		}
		return -1
	case c.indexed && name == base+".0":
		return 1
	case len(name) < len(base)+2 || len(name) > len(base)+3 || name[len(base)] != '.' || name[:len(base)] != base:
		return -1
	}
	i := parseCount(name[len(base)+1:])
	if c.indexed {
		i++
	}
	if i < 1 || i >= len(c.names) || name != c.names[i] {
		return -1
	}
	return i
}

// each calls try with every value the received cookies can be joined
// into, and the number of cookies it spans, until try returns an error.
// It tries at most maxTries values, and none when the cookies allow more:
// the caller then cannot be made to pick one of several sessions.
func (c *chunker) each(r *received, try func(value string, n int) error) error {
	if r.err != nil {
		return r.err
	}
	if c.indexed {
		return c.eachIndexed(r, try)
	}
	if r.count[0] == 0 {
		if r.present&(1<<c.max-1) != 0 {
			return errNoHead
		}
		return nil
	}
	// One cookie holding the whole value, as most requests send: there is
	// nothing to combine.
	if len(r.values) == 1 && c.count(r.values[0].value) == 1 {
		return try(r.values[0].value, 1)
	}
	// Count first: either every combination is tried, or none.
	var size [maxChunksLimit]int // bytes received per name
	received := 0
	for _, v := range r.values {
		size[v.i] += len(v.value)
		received += len(v.value)
	}
	total, joined, err := 0, 0, error(nil)
	for _, head := range r.values {
		if head.i != 0 {
			continue
		}
		n, combos, e := c.combinations(r, head.value)
		switch {
		case e == errManyCombos:
			return e
		case e != nil:
			err = cmp.Or(err, e)
		}
		if total += combos; total > maxTries {
			return errManyCombos
		}
		// Each value of chunk i is in combos/count[i] of the combinations.
		joined += combos * len(head.value)
		for i := 1; i < n; i++ {
			joined += combos / int(r.count[i]) * size[i]
		}
	}
	if joined > maxJoined*received {
		return errJoinedTooBig
	}
	for _, head := range r.values {
		if head.i != 0 {
			continue
		}
		n, combos, _ := c.combinations(r, head.value)
		for k := range combos {
			if e := try(c.join(r, head.value, n, k), n); e != nil {
				return e
			}
		}
	}
	return err
}

// eachIndexed is each for ChunksIndexed: every value of NAME alone, then
// every way to join NAME.0, NAME.1, … up to the first index missing, with
// the same bounds.
func (c *chunker) eachIndexed(r *received, try func(value string, n int) error) error {
	// Chunks are names[1] to names[n]. Without a count in the value, a
	// chunk past MaxChunks cannot be told from a leftover: it is one.
	n := 0
	for n < c.max && n+1 < len(c.names) && r.count[n+1] > 0 {
		n++
	}
	switch {
	case n == 1 && r.count[0] == 0:
		return ErrChunkMissing // NAME.0 alone: chunked values span two or more
	case n == 1:
		// A lone NAME.0 beside NAME is a leftover or junk tossed from a
		// sibling domain, never a value: NAME is tried, so the junk
		// cannot log the user out.
		n = 0
	case n == 0 && r.count[0] == 0 && r.present > 1:
		return errNoHead
	}
	combos, received, joined := 1, 0, 0
	for _, v := range r.values {
		received += len(v.value)
	}
	for i := 1; i <= n; i++ {
		if combos *= int(r.count[i]); combos > maxTries {
			return errManyCombos
		}
	}
	if n < 2 {
		combos = 0
	}
	if int(r.count[0])+combos > maxTries {
		return errManyCombos
	}
	for i := 1; i <= n; i++ {
		size := 0
		for _, v := range r.values {
			if v.i == i {
				size += len(v.value)
			}
		}
		joined += combos / int(r.count[i]) * size
	}
	if joined > maxJoined*received {
		return errJoinedTooBig
	}
	for _, v := range r.values {
		if v.i == 0 {
			if err := try(v.value, 1); err != nil {
				return err
			}
		}
	}
	for k := range combos {
		var b strings.Builder
		size := 0
		for i, rest := 1, k; i <= n; i++ {
			size += len(r.pick(i, rest%int(r.count[i])))
			rest /= int(r.count[i])
		}
		b.Grow(size)
		for i, rest := 1, k; i <= n; i++ {
			b.WriteString(r.pick(i, rest%int(r.count[i])))
			rest /= int(r.count[i])
		}
		if err := try(b.String(), n); err != nil {
			return err
		}
	}
	return nil
}

// combinations returns how many cookies a value starting with head spans
// and how many ways the received chunks can complete it.
func (c *chunker) combinations(r *received, head string) (n, combos int, err error) {
	n = c.count(head)
	if n < 1 {
		return 0, 0, errBadCount
	}
	combos = 1
	for i := 1; i < n; i++ {
		if r.count[i] == 0 {
			return 0, 0, ErrChunkMissing
		}
		combos *= int(r.count[i])
		if combos > maxTries {
			return 0, 0, errManyCombos
		}
	}
	return n, combos, nil
}

// count returns how many cookies a value whose first cookie holds head
// spans, or -1 when head names a count no configuration writes.
func (c *chunker) count(head string) int {
	switch {
	case c.express:
		return 2
	case c.whole:
		return 1
	}
	bar := strings.IndexByte(head, '|')
	if bar < 0 {
		return 1
	}
	n := parseCount(head[:bar])
	if n < 2 || n > len(c.names) {
		return -1
	}
	return n
}

// join returns the k-th way (in mixed radix over the candidates of each
// chunk) to complete head into an n-cookie value.
func (c *chunker) join(r *received, head string, n, k int) string {
	if c.express {
		return head + "." + r.pick(1, k)
	}
	if n == 1 {
		return head
	}
	head = head[strings.IndexByte(head, '|')+1:]
	size := len(head)
	for i, rest := 1, k; i < n; i++ {
		size += len(r.pick(i, rest%int(r.count[i])))
		rest /= int(r.count[i])
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(head)
	for i := 1; i < n; i++ {
		b.WriteString(r.pick(i, k%int(r.count[i])))
		k /= int(r.count[i])
	}
	return b.String()
}

// pick returns the k-th value received for names[i].
func (r *received) pick(i, k int) string {
	for _, v := range r.values {
		if v.i == i {
			if k == 0 {
				return v.value
			}
			k--
		}
	}
	return ""
}

// parseCount parses a canonical number of one or two digits (no leading
// zero), or returns -1.
func parseCount(s string) int {
	if len(s) == 0 || len(s) > 2 || s[0] == '0' {
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
