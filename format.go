package cookiesession

import (
	"fmt"
	"time"
)

// Format is how sessions are sealed into cookie values and opened from
// them: a value for Options.Format. The package's own formats are
// [BuiltinFormat] values (FormatCompact and the others); the sessions of
// other stacks are formats in the sub-packages of format/, such as
// format/iron and format/authjs.
//
// A format only turns a session into one string and back. Whatever the
// format, the Manager splits that string into cookies (as Traits.Chunks
// names them), keeps the secrets (the first seals, every one opens,
// ReplaceSecrets swaps them), checks the times, asks Options.Revocations,
// counts, and runs the middleware.
type Format interface {
	// String names the format in logs and in Inspection.
	String() string

	// Traits says what the format's cookies carry and how they are
	// named. New calls it once.
	Traits() Traits

	// NewSealer derives the keys of secrets (newest first) for the
	// cookie named cookieName. New and Manager.ReplaceSecrets call it,
	// with the secrets as the application gave them: the format applies
	// its own rules (minimum length, key derivation) and refuses a secret
	// that breaks them with an error wrapping ErrWeakSecret (CheckSecret
	// applies this package's rule).
	NewSealer(secrets [][]byte, cookieName string) (Sealer, error)
}

// Sealer seals and opens the sessions of one cookie name with one set of
// secrets. It is safe for concurrent use.
type Sealer interface {
	// Seal returns the cookie value that holds r, sealed with the first
	// secret. r's times are set; its Values are valid JSON.
	Seal(r *Record, now time.Time) (string, error)

	// Open verifies value (the session's cookies, joined) and returns the
	// session it holds and the index of the secret that verified it. A
	// value that does not verify or does not parse is an error wrapping
	// ErrInvalid. Open does work linear in len(value) and compares MACs
	// in constant time. It need not check the Record's times: the Manager
	// does (Expires, and LastSeen with Options.IdleTimeout).
	Open(value string, now time.Time) (Record, int, error)
}

// Record is a session as a Format seals and opens it. What a format lacks
// (Traits.Lacks) stays zero when opened and is ignored when sealed. The
// choice of Session.SetTransient is not part of it: with a format other
// than the package's own it shapes the cookies of the response it is made
// for, as with FormatExpress.
type Record struct {
	ID       string    // the session ID, for Manager.RevokeSession
	Created  time.Time // creation or last Renew, for NotBefore and RevokeSubject
	Expires  time.Time // absolute expiry
	LastSeen time.Time // last activity, set with Options.IdleTimeout
	Subject  string    // as Session.SetSubject records it
	Values   []Field   // the application's values, in order
	Flashes  []string  // flash messages not yet read
}

// Field is one of a session's values: its name and its JSON.
type Field struct {
	Name string
	JSON string // exactly one valid JSON value
}

// Traits describe a format's cookies to the Manager.
type Traits struct {
	// Lacks says what the cookies cannot carry.
	Lacks Lacks

	// Chunks says how a value too long for one cookie is spread over
	// several, when Options.MaxChunks allows more than one.
	Chunks ChunkNaming

	// CookieMargin is how long before the sealed expiry the cookie's
	// Max-Age ends, for formats that accept a value some time after its
	// expiry, as iron does for clock skew. A cookie that would live no
	// longer than the margin keeps its whole lifetime.
	CookieMargin time.Duration

	// MaxChunks, when above 0, is the most cookies the other application
	// reads a value from: New refuses a larger Options.MaxChunks.
	MaxChunks int
}

// Lacks is a set of what a format's cookies cannot carry, and what the
// Manager does instead.
type Lacks uint8

const (
	// LacksID: Session.ID returns "", and Manager.RevokeSession has no ID
	// to list. A format that can derive a stable ID sets Record.ID
	// instead and does not declare LacksID.
	LacksID Lacks = 1 << iota

	// LacksCreated: the Manager derives the creation time from the
	// expiry, as Expires less Options.MaxAge (no later than now): the time
	// the value was sealed when both applications give sessions the same
	// lifetime. So with Options.NotBefore or Options.Revocations, New
	// requires Options.MaxAge to be set (the default, shorter than most
	// applications' lifetimes, would make every session look created
	// just now). Without an expiry either it takes the time of reading:
	// New refuses NotBefore and Revocations for a format that lacks both,
	// and with either of them set the Manager refuses a Record that
	// carries neither (no revocation could ever end it), counted as
	// RefusedRevoked. With an expiry and either of them set, every session
	// must be sealed with the lifetime MaxAge, by both applications:
	// Session.SetMaxAge with another fails the save, and a Record that
	// expires further ahead than MaxAge (and a minute, for clocks) is
	// refused as RefusedRevoked, since its creation time would be later
	// than it is. (One sealed longer is indistinguishable, once its
	// expiry is less than MaxAge away, from one sealed later.)
	LacksCreated

	// LacksExpiry: the session expires Options.MaxAge after each read, as
	// only the cookie's Max-Age limits it.
	LacksExpiry

	// LacksLastSeen: New refuses Options.IdleTimeout.
	LacksLastSeen

	// LacksSubject: Session.SetSubject fails the save.
	LacksSubject

	// LacksFlashes: Session.AddFlash fails the save.
	LacksFlashes

	// LacksEncryption: the value is signed, not encrypted, so the client
	// can read the session; only such formats allow Options.ScriptAccess.
	LacksEncryption
)

// ChunkNaming says how the cookies of one value are named.
type ChunkNaming uint8

const (
	// ChunksCounted is this package's own: NAME alone, or NAME, NAME.1,
	// NAME.2, … with the count and "|" in front of the first.
	ChunksCounted ChunkNaming = iota

	// ChunksIndexed is the way of Auth.js and iron-session: NAME alone, or
	// NAME.0, NAME.1, … joined in order, with no count: every chunk up to
	// the first missing index belongs to the value.
	ChunksIndexed

	// ChunksNone: a value never spans several cookies, and New refuses
	// Options.MaxChunks above 1.
	ChunksNone
)

// CheckSecret applies this package's rule for secrets: at least
// minLength bytes, and not plainly patterned (see ErrWeakSecret). The
// error it returns wraps ErrWeakSecret. Formats call it from NewSealer
// with their own minimum.
func CheckSecret(secret []byte, minLength int) error {
	if len(secret) < minLength {
		return fmt.Errorf("%w: %d bytes, need at least %d", ErrWeakSecret, len(secret), minLength)
	}
	if why := notRandom(secret); why != "" {
		return fmt.Errorf("%w: it %s", ErrWeakSecret, why)
	}
	return nil
}

// ParseObject returns the members of the JSON object data, in order, each
// value as its JSON. It refuses invalid UTF-8, duplicate names and
// anything but one object, in time linear in len(data); the error wraps
// ErrInvalid. Formats use it to read a session's values.
func ParseObject(data []byte) ([]Field, error) {
	fields, err := parseFields(data)
	if err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrInvalid, err)
	}
	return toValues(fields), nil
}

// parseFields parses data as one JSON object and returns its members.
func parseFields(data []byte) ([]field, error) {
	p := newParser(data)
	var fields []field
	err := p.document(func() (err error) {
		fields, err = p.fields(nil)
		return err
	})
	return fields, err
}

// AppendObject appends values to dst as one JSON object, in order. Each
// value's JSON must be valid, as it is in a Record.
func AppendObject(dst []byte, values []Field) []byte {
	dst = append(dst, '{')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, v.Name)
		dst = append(append(dst, ':'), v.JSON...)
	}
	return append(dst, '}')
}

func toValues(fields []field) []Field {
	if len(fields) == 0 {
		return nil
	}
	values := make([]Field, len(fields))
	for i, f := range fields {
		values[i] = Field{f.key, f.raw}
	}
	return values
}

func toFields(values []Field) []field {
	if len(values) == 0 {
		return nil
	}
	fields := make([]field, len(values))
	for i, v := range values {
		fields[i] = field{v.Name, v.JSON}
	}
	return fields
}

// record returns e as a Record; the lacking parts are the format's to
// ignore.
func (e *envelope) record() Record {
	r := Record{
		ID:      e.ID,
		Created: e.created(),
		Expires: time.Unix(e.Expires, 0),
		Subject: e.Subject,
		Values:  toValues(e.Values),
		Flashes: e.Flashes,
	}
	if e.Seen != 0 {
		r.LastSeen = time.Unix(e.Seen, 0)
	}
	return r
}

// timeless reports whether r, as read by a format with traits t, has
// neither a creation time nor an expiry to derive one from.
func (r *Record) timeless(t Traits) bool {
	return (r.Expires.IsZero() || t.Lacks&LacksExpiry != 0) && (r.Created.IsZero() || t.Lacks&LacksCreated != 0)
}

// envelope returns the envelope of r as read by a format with traits t,
// filling in what the format lacks.
func (r *Record) envelope(t Traits, now time.Time, maxAge time.Duration) envelope {
	e := envelope{ID: r.ID, Subject: r.Subject, Values: toFields(r.Values), Flashes: r.Flashes}
	expires := r.Expires
	noExpiry := expires.IsZero() || t.Lacks&LacksExpiry != 0
	if noExpiry {
		expires = now.Add(maxAge)
	}
	e.Expires = expires.Unix()
	created := r.Created
	switch {
	case noExpiry && (created.IsZero() || t.Lacks&LacksCreated != 0):
		created = now
	case created.IsZero() || t.Lacks&LacksCreated != 0:
		created = expires.Add(-maxAge)
		if created.After(now) {
			created = now
		}
	}
	e.setCreated(created)
	if !r.LastSeen.IsZero() {
		e.Seen = r.LastSeen.Unix()
	}
	return e
}

// builtinSealer is a BuiltinFormat's Sealer, for callers of the Format
// interface; the Manager itself calls the key ring directly, sparing the
// conversion to a Record.
type builtinSealer struct {
	f    BuiltinFormat
	name string
	ring keyRing
}

// Traits reports that the encrypted formats carry everything, that
// FormatSignOnly lets the client read the session, and that FormatExpress
// carries only the values (its flash messages under "flash").
func (f BuiltinFormat) Traits() Traits {
	switch f {
	case FormatExpress:
		return Traits{Lacks: LacksID | LacksCreated | LacksExpiry | LacksLastSeen | LacksSubject | LacksEncryption, Chunks: ChunksNone}
	case FormatSignOnly:
		return Traits{Lacks: LacksEncryption}
	}
	return Traits{}
}

// NewSealer derives the format's keys from secrets, refusing those
// shorter than 32 bytes or patterned (FormatExpress: any non-empty
// secret, since they are the Express application's).
func (f BuiltinFormat) NewSealer(secrets [][]byte, cookieName string) (Sealer, error) {
	if f < FormatSecureCookie || f > FormatExpress {
		return nil, fmt.Errorf("cookiesession: unknown %v", f)
	}
	ring, err := newKeyRing(secrets, f.minSecretLength())
	if err != nil {
		return nil, err
	}
	for i := range ring {
		ring[i].aad = compactAAD(ring[i].hint, cookieName)
	}
	return &builtinSealer{f, cookieName, ring}, nil
}

func (f BuiltinFormat) minSecretLength() int {
	if f == FormatExpress {
		return 0 // the Express application's secrets, whatever they are
	}
	return minSecretLength
}

func (s *builtinSealer) Seal(r *Record, now time.Time) (string, error) {
	e := r.envelope(s.f.Traits(), now, 0)
	var plain []byte
	if s.f == FormatExpress {
		plain = e.appendExpressJSON(nil)
	} else {
		plain = e.appendJSON(nil)
	}
	return s.ring.seal(s.f, s.name, plain)
}

func (s *builtinSealer) Open(value string, now time.Time) (Record, int, error) {
	scratch := make([]byte, 0, len(s.name)+1+len(value)*3/4+3)
	plain, i, f, err := s.ring.open(s.f, s.name, value, scratch)
	if err != nil {
		return Record{}, 0, err
	}
	var e envelope
	if f == FormatExpress {
		e, err = parseExpress(plain)
	} else if plain, err = decompress(plain); err == nil {
		e, err = parseEnvelope(plain)
	}
	if err != nil {
		return Record{}, 0, err
	}
	r := e.record()
	if f == FormatExpress {
		r.Created, r.Expires = time.Time{}, time.Time{}
	}
	return r, i, nil
}
