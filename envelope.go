package cookiesession

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// envelope is the session as it travels: the application's values plus the
// metadata the server checks on every read. It is inside the authenticated
// (and, but for FormatSignOnly, encrypted) payload, so a client cannot
// extend its own session: cookie Max-Age is only a hint to the browser.
//
// Its JSON is written and read by hand, below, because that is most of
// the cost of a request that uses the session: each value stays the raw
// JSON it was stored as, decoded only when read (Session.Get) and encoded
// only when set (Session.Set). Field names are one letter because every
// byte is sent on every request:
//
//	{"i":"<id>","c":<created>,"m":"<ms>","e":<expires>,"s":<last seen>,
//	 "p":<persist>,"u":"<subject>","v":{"<key>":<value>,...},"f":["<flash>",...]}
//
// Times are Unix seconds; "m" is the milliseconds of the creation time,
// which revocation compares to (a session revoked in the second it was
// created is still told apart from one created just after). "m" is always
// three digits, as a string: with a number's varying width, whether a
// session at the size limit fits would depend on the millisecond it was
// created. Cookies written before "m" existed read as millisecond 0. "s",
// "p", "u", "v" and "f" are omitted when empty.
type envelope struct {
	ID      string
	Created int64
	Milli   int64   // milliseconds of Created, 0..999
	Expires int64   // absolute expiry
	Seen    int64   // last activity, only with an idle timeout
	Persist *bool   // per-session override of Options.Transient
	Subject string  // whose session it is, for revocation
	Values  []field // in the order they were first set
	Flashes []string
}

// field is one stored value. A session holds a few dozen at most, so a
// slice searched in order beats a map: no hashing, no sorting to encode
// deterministically, and the order survives the round trip. raw is a
// string so that the parser can cut it from its one copy of the payload:
// the payload itself may lie in a scratch buffer.
type field struct {
	key string
	raw string // a valid JSON value
}

// find returns the index of key in e.Values, or -1.
func (e *envelope) find(key string) int {
	for i := range e.Values {
		if e.Values[i].key == key {
			return i
		}
	}
	return -1
}

// clockSkew is how far in the future a created-at may lie, to allow for
// replicas whose clocks disagree a little. Beyond it the value is refused.
const clockSkew = time.Minute

// check enforces the times inside a verified envelope.
func (e *envelope) check(now time.Time, idle time.Duration) error {
	if e.ID == "" || e.Created == 0 || e.Expires == 0 || e.Milli < 0 || e.Milli > 999 {
		return fmt.Errorf("%w: payload is not a session envelope", ErrInvalid)
	}
	return e.checkTimes(now, idle)
}

// checkTimes is check for a session of any format, ID or not.
func (e *envelope) checkTimes(now time.Time, idle time.Duration) error {
	t := now.Unix()
	switch {
	case e.Created > now.Add(clockSkew).Unix():
		return fmt.Errorf("%w: created in the future", ErrInvalid)
	case t >= e.Expires:
		return fmt.Errorf("%w: absolute lifetime ended %s", ErrExpired, time.Unix(e.Expires, 0).UTC().Format(time.RFC3339))
	case idle > 0 && t-e.lastSeen() >= int64(idle/time.Second):
		return fmt.Errorf("%w: idle since %s", ErrExpired, time.Unix(e.lastSeen(), 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// created returns the creation time, to the millisecond.
func (e *envelope) created() time.Time {
	return time.Unix(e.Created, e.Milli*int64(time.Millisecond))
}

// setCreated records now as the creation time.
func (e *envelope) setCreated(now time.Time) {
	e.Created, e.Milli = now.Unix(), int64(now.Nanosecond())/int64(time.Millisecond)
}

// lastSeen falls back to the creation time for sessions written while no
// idle timeout was configured.
func (e *envelope) lastSeen() int64 {
	if e.Seen != 0 {
		return e.Seen
	}
	return e.Created
}

// sizeHint is about the length of e's JSON, to allocate it once: a few
// bytes above it when no string needs escaping, since the compact
// format's buffer is sized from it.
func (e *envelope) sizeHint() int {
	n := 64 + len(e.ID) // "i", "c", "m" and "e", with up to 18 digits of times
	if e.Seen != 0 {
		n += 24
	}
	if e.Persist != nil {
		n += 10
	}
	if e.Subject != "" {
		n += 7 + len(e.Subject)
	}
	if len(e.Values) > 0 {
		n += 7
	}
	for _, f := range e.Values {
		n += len(f.key) + len(f.raw) + 4
	}
	if len(e.Flashes) > 0 {
		n += 7
	}
	for _, f := range e.Flashes {
		n += len(f) + 3
	}
	return n
}

// appendJSON appends e's JSON to b.
func (e *envelope) appendJSON(b []byte) []byte {
	b = append(b, `{"i":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"c":`...)
	b = strconv.AppendInt(b, e.Created, 10)
	b = append(b, `,"m":"`...)
	b = append(b, byte('0'+e.Milli/100), byte('0'+e.Milli/10%10), byte('0'+e.Milli%10), '"')
	b = append(b, `,"e":`...)
	b = strconv.AppendInt(b, e.Expires, 10)
	if e.Seen != 0 {
		b = append(b, `,"s":`...)
		b = strconv.AppendInt(b, e.Seen, 10)
	}
	if e.Persist != nil {
		b = append(b, `,"p":`...)
		b = strconv.AppendBool(b, *e.Persist)
	}
	if e.Subject != "" {
		b = append(b, `,"u":`...)
		b = appendString(b, e.Subject)
	}
	if len(e.Values) > 0 {
		b = append(b, `,"v":{`...)
		b = appendFields(b, e.Values)
		b = append(b, '}')
	}
	if len(e.Flashes) > 0 {
		b = append(b, `,"f":[`...)
		for i, f := range e.Flashes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendFields appends "key":value pairs, comma-separated.
func appendFields(b []byte, fields []field) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.key)
		b = append(b, ':')
		b = append(b, f.raw...)
	}
	return b
}

// appendString appends s as a JSON string, exactly as encoding/json
// writes it. Printable ASCII but the quote, the backslash and <, > and &
// (which encoding/json escapes for HTML) is copied as it is: that is what
// keys, IDs and most string values are. Anything else goes through
// encoding/json.
func appendString(b []byte, s string) []byte {
	if !asIs(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// asIs reports whether encoding/json writes s between quotes unchanged.
func asIs(s string) bool {
	for i := 0; i < len(s); i++ {
		if !writtenAsIs[s[i]] {
			return false
		}
	}
	return true
}

// writtenAsIs marks the bytes encoding/json writes in a string unchanged.
var writtenAsIs = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// parseEnvelope reads what appendJSON wrote (decompressed). Nothing it
// returns refers to data, which the caller may reuse. Unknown fields are
// skipped, so later versions may add some.
func parseEnvelope(data []byte) (envelope, error) {
	var e envelope
	p := newParser(data)
	var seen uint16 // one bit per known field, to refuse duplicates
	err := p.document(func() error {
		return p.object(func(key []byte) error {
			return e.readField(&p, key, &seen)
		})
	})
	if err != nil {
		return envelope{}, fmt.Errorf("%w: payload is not a session envelope: %v", ErrInvalid, err)
	}
	return e, nil
}

// envelopeFields are the envelope's field names, in the order of the bits
// readField sets for them.
const envelopeFields = "icespvfum"

// readField reads the value of one envelope field; unknown fields are
// skipped. A known field may appear once: encoding/json would take the
// last of two, and two readers must never disagree on what a session
// holds.
func (e *envelope) readField(p *parser, key []byte, seen *uint16) error {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		k, err := p.unquote(key)
		if err != nil {
			return err
		}
		name = []byte(k)
	}
	if len(name) == 1 {
		if bit := strings.IndexByte(envelopeFields, name[0]); bit >= 0 {
			if *seen&(1<<bit) != 0 {
				return p.fail("duplicate field")
			}
			*seen |= 1 << bit
		}
	}
	switch string(name) {
	case "i":
		return p.string(&e.ID)
	case "u":
		return p.string(&e.Subject)
	case "c":
		return p.int(&e.Created)
	case "m":
		p.space()
		raw, err := p.quoted()
		if err != nil {
			return err
		}
		return parseMilli(raw, &e.Milli, p)
	case "e":
		return p.int(&e.Expires)
	case "s":
		return p.int(&e.Seen)
	case "p":
		raw, err := p.value()
		if err != nil {
			return err
		}
		if string(raw) != "true" && string(raw) != "false" {
			return p.fail("expected true or false")
		}
		persist := string(raw) == "true"
		e.Persist = &persist
		return nil
	case "v":
		// Read on the stack, then kept at their exact size: they are read
		// on every request, and few requests add one.
		var read [16]field
		values, err := p.fields(read[:0])
		e.Values = slices.Clone(values)
		return err
	case "f":
		raw, err := p.value()
		if err != nil {
			return err
		}
		if raw[0] != '[' {
			// encoding/json reads null as no flashes; no writer sends it.
			return p.fail("flashes are not an array")
		}
		// Into a variable of its own: &e.Flashes would move every
		// envelope to the heap.
		var flashes []string
		err = json.Unmarshal(raw, &flashes)
		e.Flashes = flashes
		return err
	}
	_, err := p.value()
	return err
}

// parser walks one JSON document without building it, to find the
// envelope's fields and the extent of each value, and checks it against
// the JSON grammar as it goes: what it accepts, encoding/json accepts.
type parser struct {
	data []byte
	pos  int
	text string // string(data), which every string the parser returns is cut from
}

// newParser returns a parser of data. It copies data once, into the one
// string that the keys, IDs and raw values it returns share: one
// allocation for all of them instead of one each, and data is free for
// reuse when parsing is done.
func newParser(data []byte) parser {
	return parser{data: data, text: string(data)}
}

// str returns the text of b, a sub-slice of p.data. Its start is the
// difference of the capacities.
func (p *parser) str(b []byte) string {
	start := cap(p.data) - cap(b)
	return p.text[start : start+len(b)]
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%s at offset %d", what, p.pos)
}

// document runs read, after which the data must hold nothing but white
// space. The data must be valid UTF-8: encoding/json would silently
// replace invalid bytes, so a value could read back other than written.
func (p *parser) document(read func() error) error {
	if !utf8.Valid(p.data) {
		return errors.New("invalid UTF-8")
	}
	if err := read(); err != nil {
		return err
	}
	p.space()
	if p.pos != len(p.data) {
		return p.fail("trailing data")
	}
	return nil
}

func (p *parser) space() {
	// The envelope as written has no white space: one comparison for that.
	if p.pos < len(p.data) && p.data[p.pos] > ' ' {
		return
	}
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// consume skips white space and then c, if it is next.
func (p *parser) consume(c byte) bool {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field with each key (quotes
// included) when the parser stands before its value.
func (p *parser) object(field func(key []byte) error) error {
	if !p.consume('{') {
		return p.fail("expected object")
	}
	if p.consume('}') {
		return nil
	}
	for {
		p.space()
		key, err := p.quoted()
		if err != nil {
			return err
		}
		if !p.consume(':') {
			return p.fail("expected colon")
		}
		if err := field(key); err != nil {
			return err
		}
		if p.consume('}') {
			return nil
		}
		if !p.consume(',') {
			return p.fail("expected comma")
		}
	}
}

// fields reads an object whose values are kept raw, appending each
// decoded key with its value to dst. A key may appear once. It is the
// loop of object written out, without a callback per field: the values
// object is most of every envelope.
func (p *parser) fields(dst []field) ([]field, error) {
	if !p.consume('{') {
		return dst, p.fail("expected object")
	}
	if p.consume('}') {
		return dst, nil
	}
	start := len(dst)
	var keys map[string]struct{} // only for objects too large to search
	for {
		p.space()
		quoted, err := p.quoted()
		if err != nil {
			return dst, err
		}
		k, err := p.unquote(quoted)
		if err != nil {
			return dst, err
		}
		if seenKey(dst[start:], k, &keys) {
			return dst, p.fail("duplicate key")
		}
		if !p.consume(':') {
			return dst, p.fail("expected colon")
		}
		// Most values are strings: those skip value's general path.
		var raw []byte
		if p.space(); p.pos < len(p.data) && p.data[p.pos] == '"' {
			raw, err = p.quoted()
		} else {
			raw, err = p.value()
		}
		if err != nil {
			return dst, err
		}
		dst = append(dst, field{k, p.str(raw)})
		if p.consume('}') {
			return dst, nil
		}
		if !p.consume(',') {
			return dst, p.fail("expected comma")
		}
	}
}

// seenKey reports whether k is the key of one of the fields read so far,
// searching them while they are few and a map of their keys after that,
// so that no object costs more than linear work.
func seenKey(read []field, k string, keys *map[string]struct{}) bool {
	if *keys == nil {
		if len(read) < 16 {
			for _, f := range read {
				if f.key == k {
					return true
				}
			}
			return false
		}
		*keys = make(map[string]struct{}, 2*len(read))
		for _, f := range read {
			(*keys)[f.key] = struct{}{}
		}
	}
	if _, dup := (*keys)[k]; dup {
		return true
	}
	(*keys)[k] = struct{}{}
	return false
}

// quoted reads a JSON string, returning it with its quotes. It accepts
// exactly what encoding/json does: no raw control characters, and only
// the escapes JSON defines.
func (p *parser) quoted() ([]byte, error) {
	start := p.pos
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return nil, p.fail("expected string")
	}
	data, i := p.data, p.pos+1
	for {
		// The runs of plain text, most of every string, in a tight loop.
		for i < len(data) && plainInString[data[i]] {
			i++
		}
		if i >= len(data) {
			p.pos = i
			return nil, p.fail("unterminated string")
		}
		switch data[i] {
		case '"':
			p.pos = i + 1
			return data[start:p.pos], nil
		case '\\':
			i++
			if i >= len(data) {
				p.pos = i
				return nil, p.fail("unterminated string")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1:i+5]) {
					p.pos = i
					return nil, p.fail("bad unicode escape")
				}
				i += 4
			default:
				p.pos = i
				return nil, p.fail("bad escape")
			}
			i++
		default:
			p.pos = i
			return nil, p.fail("control character in string")
		}
	}
}

// plainInString marks the bytes a JSON string holds as they are: all but
// the quote, the backslash and the control characters.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// value reads one JSON value, checking its grammar, and returns its
// bytes. Nesting is tracked on an explicit stack, not by recursion, so no
// input can exhaust the goroutine's stack.
func (p *parser) value() ([]byte, error) {
	p.space()
	start := p.pos
	opened, err := p.scalarOrOpen()
	if err != nil {
		return nil, err
	}
	if opened == 0 {
		return p.data[start:p.pos], nil // a scalar, as most values are
	}
	var small [32]byte
	open := append(small[:0], opened) // the containers we are in: '}' or ']' to close each
	for {
		opened, err := p.scalarOrOpen()
		if err != nil {
			return nil, err
		}
		if opened != 0 {
			open = append(open, opened)
			continue // the container's first value
		}
		// After a value: close what ends here, or go on to the next value.
		for {
			if len(open) == 0 {
				return p.data[start:p.pos], nil
			}
			closer := open[len(open)-1]
			if p.consume(closer) {
				open = open[:len(open)-1]
				continue
			}
			if !p.consume(',') {
				return nil, p.fail("expected comma")
			}
			if closer == '}' {
				if err := p.key(); err != nil {
					return nil, err
				}
			}
			break
		}
	}
}

// scalarOrOpen reads a scalar or an empty container, or opens a container
// (and, in an object, reads its first key) and returns the byte that will
// close it.
func (p *parser) scalarOrOpen() (closer byte, err error) {
	p.space()
	if p.pos >= len(p.data) {
		return 0, p.fail("expected value")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		p.pos++
		if p.consume('}') {
			return 0, nil
		}
		return '}', p.key()
	case '[':
		p.pos++
		if p.consume(']') {
			return 0, nil
		}
		return ']', nil
	case '"':
		_, err := p.quoted()
		return 0, err
	case 't':
		return 0, p.literal("true")
	case 'f':
		return 0, p.literal("false")
	case 'n':
		return 0, p.literal("null")
	}
	return 0, p.number()
}

// key reads an object key and its colon.
func (p *parser) key() error {
	p.space()
	if _, err := p.quoted(); err != nil {
		return err
	}
	if !p.consume(':') {
		return p.fail("expected colon")
	}
	return nil
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return p.fail("bad literal")
	}
	p.pos += len(word)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	p.skip('-')
	switch {
	case p.skip('0'):
	case p.digits() == 0:
		return p.fail("expected value")
	}
	if p.skip('.') && p.digits() == 0 {
		return p.fail("bad number")
	}
	if p.skip('e') || p.skip('E') {
		_ = p.skip('+') || p.skip('-')
		if p.digits() == 0 {
			return p.fail("bad number")
		}
	}
	return nil
}

// skip consumes c if it is next, without skipping white space.
func (p *parser) skip(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) digits() int {
	start, i := p.pos, p.pos
	for i < len(p.data) && '0' <= p.data[i] && p.data[i] <= '9' {
		i++
	}
	p.pos = i
	return i - start
}

func (p *parser) string(dst *string) error {
	p.space()
	raw, err := p.quoted()
	if err != nil {
		return err
	}
	*dst, err = p.unquote(raw)
	return err
}

// int reads an integer in int64's range. value has checked the number's
// grammar, so what remains is to refuse fractions and exponents and to
// check the range; strconv.ParseInt would cost more than the rest of the
// field.
func (p *parser) int(dst *int64) error {
	raw, err := p.value()
	if err != nil {
		return err
	}
	const what = "expected an integer in int64's range"
	digits, neg := bytes.CutPrefix(raw, []byte("-"))
	if len(digits) == 0 || len(digits) > 19 { // more do not fit in a uint64
		return p.fail(what)
	}
	var n uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return p.fail(what)
		}
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		*dst = -int64(n) // for 1<<63, int64(n) wraps to the minimum, its own negation
	case !neg && n <= math.MaxInt64:
		*dst = int64(n)
	default:
		return p.fail(what)
	}
	return nil
}

// parseMilli reads the "m" field, quotes included, without allocating:
// exactly three digits.
func parseMilli(raw []byte, dst *int64, p *parser) error {
	if len(raw) != 5 {
		return p.fail("milliseconds are not three digits")
	}
	*dst = 0
	for _, c := range raw[1:4] {
		if c < '0' || c > '9' {
			return p.fail("milliseconds are not three digits")
		}
		*dst = *dst*10 + int64(c-'0')
	}
	return nil
}

// unquote decodes a JSON string that quoted returned (quotes included).
// Only strings with escapes need encoding/json; the others are cut from
// p.text. document has checked the UTF-8 already.
func (p *parser) unquote(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') >= 0 {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	s := p.str(raw)
	return s[1 : len(s)-1], nil
}
