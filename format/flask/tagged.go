package flask

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The types below are the values Flask's tagged JSON marks, for
// cookiesession.Value and Session.Set: each reads and writes its tagged
// form, so Flask reads back the Python type it wrote. Plain Go values
// (strings, numbers, slices, maps, structs) are plain JSON: Flask reads
// them as str, int or float, list and dict.

// Tuple is a Python tuple, {" t": [...]}. Its elements may be tagged
// values themselves, such as Bytes.
type Tuple[T any] []T

// MarshalJSON writes {" t": [...]}.
func (t Tuple[T]) MarshalJSON() ([]byte, error) {
	return marshalTagged(" t", []T(t))
}

// UnmarshalJSON reads {" t": [...]}.
func (t *Tuple[T]) UnmarshalJSON(b []byte) error {
	var v []T
	if err := untag(b, " t", "tuple", &v); err != nil {
		return err
	}
	*t = v
	return nil
}

// Bytes is a Python bytes value, {" b": "<base64>"}.
type Bytes []byte

// MarshalJSON writes {" b": "<base64>"}.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return marshalTagged(" b", []byte(b))
}

// UnmarshalJSON reads {" b": "<base64>"}.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var v []byte
	if err := untag(data, " b", "bytes", &v); err != nil {
		return err
	}
	*b = v
	return nil
}

// UUID is a Python uuid.UUID, {" u": "<32 hex digits>"}.
type UUID [16]byte

// String returns the UUID in its canonical form.
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MarshalJSON writes {" u": "<32 hex digits>"}, as Flask does.
func (u UUID) MarshalJSON() ([]byte, error) {
	return marshalTagged(" u", hex.EncodeToString(u[:]))
}

// UnmarshalJSON reads {" u": "<hex>"}, with or without hyphens.
func (u *UUID) UnmarshalJSON(data []byte) error {
	var v string
	if err := untag(data, " u", "UUID", &v); err != nil {
		return err
	}
	digits := strings.ReplaceAll(v, "-", "")
	if len(digits) != 32 {
		return fmt.Errorf("cookiesession: not a Flask UUID: %q", v)
	}
	if _, err := hex.Decode(u[:], []byte(digits)); err != nil {
		return fmt.Errorf("cookiesession: not a Flask UUID: %q", v)
	}
	return nil
}

// Time is a Python datetime, {" d": "<HTTP date>"}: whole seconds in UTC,
// which is all Flask keeps (it reads them back as aware UTC datetimes).
type Time struct{ time.Time }

// MarshalJSON writes {" d": "Mon, 07 Dec 2026 17:00:00 GMT"}.
func (t Time) MarshalJSON() ([]byte, error) {
	return marshalTagged(" d", t.UTC().Format(http.TimeFormat))
}

// UnmarshalJSON reads {" d": "<HTTP date>"}.
func (t *Time) UnmarshalJSON(data []byte) error {
	var v string
	if err := untag(data, " d", "datetime", &v); err != nil {
		return err
	}
	parsed, err := http.ParseTime(v)
	if err != nil {
		return fmt.Errorf("cookiesession: a Flask datetime that is not an HTTP date: %q", v)
	}
	t.Time = parsed
	return nil
}

// Markup is markupsafe.Markup, HTML Flask's templates do not escape again,
// {" m": "<html>"}.
type Markup string

// MarshalJSON writes {" m": "<html>"}.
func (m Markup) MarshalJSON() ([]byte, error) {
	return marshalTagged(" m", string(m))
}

// UnmarshalJSON reads {" m": "<html>"}.
func (m *Markup) UnmarshalJSON(data []byte) error {
	var v string
	if err := untag(data, " m", "Markup", &v); err != nil {
		return err
	}
	*m = Markup(v)
	return nil
}

// untag decodes the value of data, a one-key object whose key is tag, into
// v, as Flask's TaggedJSONSerializer.untag does.
func untag(data []byte, tag, what string, v any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || len(obj) != 1 || obj[tag] == nil {
		return fmt.Errorf("cookiesession: not a Flask tagged %s: %s", what, clip(data))
	}
	if err := json.Unmarshal(obj[tag], v); err != nil {
		return fmt.Errorf("cookiesession: Flask tagged %s: %w", what, err)
	}
	return nil
}

// clip shortens JSON for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Flask's tagged JSON cannot tell a Go map {" m": "<html>"} from Markup:
// Flask would read such a map as the tagged type (HTML its templates do
// not escape, or a datetime that is None when it does not parse). Flask
// escapes its own dicts of that shape as {" di": {" m__": …}} (TagDict);
// this package does the same. The session's values are kept in the Go
// side's form, where a tagged value written by the types above spells its
// key with a JSON escape ("\u0020m", the same string to any JSON reader)
// that encoding/json never writes for a map key, and a dict is the dict
// itself. Open turns Flask's form into that, Seal back, so every value
// maps to one Flask value and back, at any depth.

// tags are the keys of Flask's TaggedJSONSerializer: TagDict, TagTuple,
// TagBytes, TagMarkup, TagUUID and TagDateTime.
var tags = map[string]bool{" di": true, " t": true, " b": true, " m": true, " u": true, " d": true}

// goKey is how the Go side spells tag, a tag's key: its leading space as
// a JSON escape.
func goKey(tag string) string { return `"\u0020` + tag[1:] + `"` }

// marshalTagged writes v under tag in the Go side's form.
func marshalTagged(tag string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(append([]byte("{"+goKey(tag)+":"), b...), '}'), nil
}

// maxDepth bounds the nesting the conversions follow, as a guard on the
// stack; Flask's own reader stops at Python's recursion limit, 1000.
const maxDepth = 1000

// retag converts data, valid JSON, between Flask's form and the Go
// side's: toFlask escapes one-key dicts named like a tag and spells the
// Go side's tags plainly; otherwise Flask's tags get the Go spelling and
// its escaped dicts are unescaped. Its work is linear in len(data).
func retag(data []byte, toFlask bool) ([]byte, error) {
	r := retagger{in: data, toFlask: toFlask, out: make([]byte, 0, len(data)+len(data)/8)}
	if err := r.members(); err != nil {
		return nil, err
	}
	if err := r.value(); err != nil {
		return nil, err
	}
	return r.out, nil
}

type retagger struct {
	in, out []byte
	pos     int
	toFlask bool
	many    []bool // many[i]: the object opened at in[i] has two members or more
}

var errTooDeep = fmt.Errorf("cookiesession: the Flask session nests more than %d deep", maxDepth)

// members fills many in one pass, so each object's shape is known when
// it is reached and nothing is scanned twice, and bounds the nesting the
// conversion then follows.
func (r *retagger) members() error {
	r.many = make([]bool, len(r.in))
	var open []int // positions of the enclosing brackets
	inString := false
	for i := 0; i < len(r.in); i++ {
		c := r.in[i]
		switch {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if len(open) == maxDepth {
				return errTooDeep
			}
			open = append(open, i)
		case c == '}' || c == ']':
			open = open[:len(open)-1]
		case c == ',' && r.in[open[len(open)-1]] == '{':
			r.many[open[len(open)-1]] = true
		}
	}
	return nil
}

func (r *retagger) space() {
	for r.pos < len(r.in) && (r.in[r.pos] == ' ' || r.in[r.pos] == '\t' || r.in[r.pos] == '\n' || r.in[r.pos] == '\r') {
		r.pos++
	}
}

// str returns the string at pos, quotes and escapes as written.
func (r *retagger) str() []byte {
	start := r.pos
	for r.pos++; r.in[r.pos] != '"'; r.pos++ {
		if r.in[r.pos] == '\\' {
			r.pos++
		}
	}
	r.pos++
	return r.in[start:r.pos]
}

// tagOf returns the tag that key (as written) names, if any.
func tagOf(key []byte) string {
	if len(key) > len(`"\u0020di"`) {
		return ""
	}
	var s string
	if json.Unmarshal(key, &s) != nil || !tags[s] {
		return ""
	}
	return s
}

func (r *retagger) value() error {
	r.space()
	switch r.in[r.pos] {
	case '{':
		return r.object()
	case '[':
		r.out = append(r.out, '[')
		r.pos++
		for first := true; ; first = false {
			r.space()
			if r.in[r.pos] == ']' {
				break
			}
			if !first {
				r.out = append(r.out, ',')
				r.pos++ // ','
			}
			if err := r.value(); err != nil {
				return err
			}
			r.space()
		}
		r.out = append(r.out, ']')
		r.pos++
	case '"':
		r.out = append(r.out, r.str()...)
	default:
		start := r.pos
		for r.pos < len(r.in) && !strings.ContainsRune(",]} \t\r\n", rune(r.in[r.pos])) {
			r.pos++
		}
		r.out = append(r.out, r.in[start:r.pos]...)
	}
	return nil
}

func (r *retagger) object() error {
	one := !r.many[r.pos]
	r.pos++ // '{'
	r.space()
	if r.in[r.pos] == '}' {
		r.pos++
		r.out = append(r.out, "{}"...)
		return nil
	}
	if one {
		key := r.str()
		if tag := tagOf(key); tag != "" {
			r.space()
			r.pos++ // ':'
			return r.tagged(tag, key[1] == '\\')
		}
		r.pos -= len(key)
	}
	r.out = append(r.out, '{')
	for first := true; ; first = false {
		r.space()
		if r.in[r.pos] == '}' {
			break
		}
		if !first {
			r.out = append(r.out, ',')
			r.pos++ // ','
			r.space()
		}
		r.out = append(r.out, r.str()...)
		r.space()
		r.pos++ // ':'
		r.out = append(r.out, ':')
		if err := r.value(); err != nil {
			return err
		}
		r.space()
	}
	r.out = append(r.out, '}')
	r.pos++
	return nil
}

// tagged converts the one-key object whose key, tag, has just been read,
// up to its closing brace; goSpelled says the key was spelled as the Go
// side spells a tag.
func (r *retagger) tagged(tag string, goSpelled bool) error {
	closing := "}"
	switch {
	case r.toFlask && goSpelled: // a tagged value: Flask's tag
		r.out = append(r.out, `{"`+tag+`":`...)
	case r.toFlask: // a dict named like a tag: escaped as Flask's TagDict does
		r.out = append(r.out, `{" di":{"`+tag+`__":`...)
		closing = "}}"
	case tag == " di" && r.escapedDict():
		// Flask's escaped dict, {" di": {"<key>__": v}}, is {"<key>": v}:
		// read the inner object in its place.
		r.space()
		r.pos++ // the inner '{'
		r.space()
		key := r.str()
		r.out = append(r.out, '{')
		r.out = append(r.out, key[:len(key)-3]...)
		r.out = append(r.out, `":`...)
		r.space()
		r.pos++ // ':'
		if err := r.value(); err != nil {
			return err
		}
		r.space()
		r.pos++ // the inner '}'
		r.space()
		r.pos++ // '}'
		r.out = append(r.out, '}')
		return nil
	default: // a Flask tag: the Go side's spelling
		r.out = append(r.out, "{"+goKey(tag)+":"...)
	}
	if err := r.value(); err != nil {
		return err
	}
	r.space()
	r.pos++ // '}'
	r.out = append(r.out, closing...)
	return nil
}

// escapedDict reports whether the value at pos is a one-key object whose
// key ends in "__", as Flask's TagDict writes it.
func (r *retagger) escapedDict() bool {
	i := r.pos
	for i < len(r.in) && strings.IndexByte(" \t\r\n", r.in[i]) >= 0 {
		i++
	}
	if i == len(r.in) || r.in[i] != '{' || r.many[i] {
		return false
	}
	save := r.pos
	defer func() { r.pos = save }()
	r.pos = i + 1
	r.space()
	if r.in[r.pos] != '"' {
		return false // {}
	}
	key := r.str()
	return len(key) >= 4 && string(key[len(key)-3:]) == `__"`
}
