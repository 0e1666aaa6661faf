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
	return json.Marshal(map[string][]T{" t": t})
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
	return json.Marshal(map[string][]byte{" b": b})
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
	return json.Marshal(map[string]string{" u": hex.EncodeToString(u[:])})
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
	return json.Marshal(map[string]string{" d": t.UTC().Format(http.TimeFormat)})
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
	return json.Marshal(map[string]string{" m": string(m)})
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
