package cookiesession

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Session is one client's session: JSON values plus metadata, read from the
// request's cookies the first time a method is called and written back by
// [Manager.Middleware] or [Manager.Save] when something changed.
//
// A Session is safe for use by several goroutines serving the same
// request. Two concurrent requests from one client each get their own
// copy, and the response that arrives last wins: that is inherent to
// keeping the state in the client.
type Session struct {
	m   *Manager
	ctx context.Context // the request's, for Options.Revocations and logs
	mu  sync.Mutex

	lines  []string // the request's Cookie header lines, until loaded
	host   string   // the request's Host, where a tossed session is deleted
	loaded bool

	// The sessions whose cookies this request carried or sent, for
	// Manager.RevokeSession, whatever the handler did to s since.
	arrived string   // the ID the request's cookies carried, also when expired or revoked
	others  []string // more: two tossed sessions, or IDs this request sent
	carried bool     // the request carried a cookie of the session's name
	tossed  uint32   // two valid sessions came, in these names: delete them at host's domains too

	env         envelope
	isNew       bool   // the request carried no valid session
	changed     bool   // values, flashes, lifetime or id changed
	reissue     bool   // verified by an older key or in another format
	touched     bool   // the idle window needs renewing
	chunks      int    // cookies the browser holds for this session
	present     uint32 // chunk indexes the request carried (bit i: names[i])
	sent        bool   // the response header is out: changes are lost
	saved       bool   // committed once already
	failCounted bool   // the last commit failed, and was counted

	// failed holds what could not be stored: the save fails while the
	// session still holds any of it, and not after the handler replaced,
	// deleted or cleared it.
	failed []failure
	// reported: Save or SaveHeader returned an error to the caller, and
	// the session has not changed since, so the caller answers for it.
	reported bool
}

// failure is a value that could not be stored, with the reason.
type failure struct {
	slot slot
	key  string // the value's key, for slotValue
	err  error
}

// slot says what a failure was meant to replace.
type slot uint8

const (
	slotValue   slot = iota // a value, under failure.key
	slotSubject             // the subject
	slotFlash               // a flash message, in a format that carries none
	slotMaxAge              // SetMaxAge's lifetime, where it would misdate the session
)

// load decodes the cookies on first use. The caller holds s.mu.
func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	m := s.m
	if s.sent {
		m.log().WarnContext(s.ctx, "cookiesession: session first used after the response header was written; the response lacks Vary: Cookie, so a shared cache may serve it to other clients", "cookie", m.name)
	}
	now := m.now()
	d, err := m.decode(s.ctx, s.lines, now)
	m.countRead(&d, err, now)
	s.lines = nil
	s.present = d.present
	s.carried = d.present&1 != 0
	// A refused session that verified (expired, revoked) comes with its
	// envelope: copies of it may still be valid elsewhere.
	s.arrived, s.others = d.env.ID, d.tossed
	s.tossed = d.tossedNames
	if err != nil || d.chunks == 0 {
		if err != nil {
			// The reason only: cookie contents and keys never go to logs.
			m.log().DebugContext(s.ctx, "cookiesession: starting a new session", "cookie", m.name, "reason", err)
		}
		s.reset(now)
		return
	}
	s.env, s.chunks = d.env, d.chunks
	s.reissue = d.keyIndex > 0 || !m.foreign && d.format != m.builtin
	s.touched = m.idle > 0 && now.Unix()-s.env.lastSeen() >= int64(m.idle/10/time.Second)
}

// reset makes s a new empty session; cookies the request carried will be
// cleared unless the session is written again.
func (s *Session) reset(now time.Time) {
	s.env = envelope{Expires: now.Add(s.m.maxAge).Unix()}
	s.env.setCreated(now)
	s.isNew = true
	s.chunks = 0
	s.reissue, s.touched = false, false
}

// change records a modification. The caller holds s.mu.
func (s *Session) change() {
	s.changed = true
	s.reported, s.failCounted = false, false
	if s.sent {
		s.m.log().WarnContext(s.ctx, "cookiesession: session changed after the response header was written; the change is lost", "cookie", s.m.name)
	}
}

// lock locks s and loads it; callers defer s.mu.Unlock().
func (s *Session) lock() {
	s.mu.Lock()
	s.load()
}

// ID returns the session's identifier: 22 random characters, kept for the
// life of the session and replaced by Renew. Use it to recognise a session
// in logs or a revocation list; it is not a secret. Sessions of a format
// that carries none (LacksID), such as FormatExpress, have none: ID
// returns "".
func (s *Session) ID() string {
	s.lock()
	defer s.mu.Unlock()
	return s.id()
}

// id assigns the identifier on first need, so that requests which only
// read a new session pay nothing for it.
func (s *Session) id() string {
	if s.env.ID == "" && s.m.traits.Lacks&LacksID == 0 {
		s.env.ID = base64.RawURLEncoding.EncodeToString(randomBytes(16))
	}
	return s.env.ID
}

// SetSubject records whose session this is, typically the user ID at
// login (after Renew), so that Manager.RevokeSubject can end all of that
// user's sessions at once. The subject is kept by Renew and cleared by
// Destroy. Cookies of a format that lacks one (LacksSubject), such as
// FormatExpress, cannot carry one, nor can text that is not
// valid UTF-8: the save fails until a valid subject is set or the session
// destroyed.
func (s *Session) SetSubject(subject string) {
	s.lock()
	defer s.mu.Unlock()
	switch {
	case s.m.traits.Lacks&LacksSubject != 0:
		s.fail(slotSubject, "", fmt.Errorf("cookiesession: %v sessions carry no subject", s.m.format))
	case !utf8.ValidString(subject):
		s.fail(slotSubject, "", fmt.Errorf("cookiesession: subject %q: %w", subject, errInvalidUTF8))
	default:
		s.forget(slotSubject, "")
		if subject != s.env.Subject {
			s.env.Subject = subject
			s.change()
		}
	}
}

// Subject returns what SetSubject recorded, or "".
func (s *Session) Subject() string {
	s.lock()
	defer s.mu.Unlock()
	return s.env.Subject
}

// end destroys s and returns, in the same step, the IDs that copies of
// its cookies may carry, and whether the request carried a session cookie
// at all.
func (s *Session) end() (ids []string, carried bool) {
	s.lock()
	defer s.mu.Unlock()
	if s.arrived != "" {
		ids = append(ids, s.arrived)
	}
	ids = append(ids, s.others...)
	carried = s.carried
	s.destroy()
	return ids, carried
}

// issued records that this request sent a cookie of the current session.
// The caller holds s.mu.
func (s *Session) issued() {
	if id := s.env.ID; id != s.arrived && !slices.Contains(s.others, id) {
		s.others = append(s.others, id)
	}
}

// fail records that the value for slot (and key) could not be stored:
// saving fails until it is replaced or removed. The caller holds s.mu.
func (s *Session) fail(sl slot, key string, err error) {
	s.forget(sl, key)
	s.failed = append(s.failed, failure{sl, key, err})
	s.reported, s.failCounted = false, false
}

// forget drops the failure of slot (and key), now that the session no
// longer holds the value that failed. The caller holds s.mu.
func (s *Session) forget(sl slot, key string) {
	s.failed = slices.DeleteFunc(s.failed, func(f failure) bool { return f.slot == sl && f.key == key })
}

// forgetAll drops every failure of slot. The caller holds s.mu.
func (s *Session) forgetAll(sl slot) {
	s.failed = slices.DeleteFunc(s.failed, func(f failure) bool { return f.slot == sl })
}

// IsNew reports whether the request carried no valid session: none at
// all, or one that was invalid or expired, or Destroy was called.
func (s *Session) IsNew() bool {
	s.lock()
	defer s.mu.Unlock()
	return s.isNew
}

// IsChanged reports whether the session was modified during this request
// and not yet saved.
func (s *Session) IsChanged() bool {
	s.lock()
	defer s.mu.Unlock()
	return s.changed
}

// Created returns when the session was created or last renewed.
func (s *Session) Created() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return s.env.created()
}

// Expires returns the session's absolute expiry. An idle timeout may end
// it sooner.
func (s *Session) Expires() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return time.Unix(s.env.Expires, 0)
}

// Get decodes the JSON value stored under key into dst, as json.Unmarshal
// does, and reports whether the key exists and its value decodes into dst.
func (s *Session) Get(key string, dst any) bool {
	key, _ = validUTF8(key)
	s.lock()
	defer s.mu.Unlock()
	i := s.env.find(key)
	return i >= 0 && decodeValue(s.env.Values[i].raw, dst) == nil
}

// decodeValue is json.Unmarshal(raw, dst) with a shortcut for the
// commonest reads, an int or a string without escapes, which
// encoding/json decodes through its scanner and reflection in about ten
// times the time. raw is valid JSON in valid UTF-8 (Set marshalled it, or
// the envelope parser checked it), so the shortcut gives what
// json.Unmarshal gives.
func decodeValue(raw string, dst any) error {
	switch d := dst.(type) {
	case *string:
		if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && strings.IndexByte(raw, '\\') < 0 {
			*d = raw[1 : len(raw)-1]
			return nil
		}
	case *int:
		if n, err := strconv.Atoi(raw); err == nil {
			*d = n
			return nil
		}
	}
	return json.Unmarshal([]byte(raw), dst)
}

// Value returns the value stored under key as a T. ok is false when the
// key is missing or its value does not decode into a T. A number stored as
// an int reads back as an int, since the value is decoded into T itself.
func Value[T any](s *Session, key string) (v T, ok bool) {
	if !s.Get(key, &v) {
		var zero T
		return zero, false
	}
	return v, true
}

// Keys returns the keys of the stored values, sorted.
func (s *Session) Keys() []string {
	s.lock()
	defer s.mu.Unlock()
	keys := make([]string, len(s.env.Values))
	for i, f := range s.env.Values {
		keys[i] = f.key
	}
	slices.Sort(keys)
	return keys
}

// Set stores value under key, encoded as JSON now, so later changes to
// value are not seen. Setting the value a key already holds is not a
// change.
//
// Text that is not valid UTF-8, in the key or in any string of the value
// (a form field such as user=bad%ffname, say), is stored as encoding/json
// stores it: each invalid byte becomes U+FFFD, so it reads back changed,
// and two keys that differ only there are one key. Counts.InvalidUTF8
// counts such values; Get and Delete find the key under either spelling.
//
// A value that only the program can make unstorable (a channel, a func,
// a cycle, or nesting deeper than encoding/json reads back) is not
// stored, and the save fails with an error that names the key until the
// key is set again, deleted or cleared, or the session destroyed.
func (s *Session) Set(key string, value any) {
	b, err := encodeValue(value)
	key, badKey := validUTF8(key)
	badValue := false
	if err == nil && (replacedInvalidUTF8(b) || !utf8.ValidString(b)) {
		// The first when encoding/json replaced invalid text, the second
		// when it passed it through (a json.RawMessage, a MarshalJSON):
		// only inside strings, since it checks the JSON around them.
		b, _ = validUTF8(b)
		badValue = true
	}
	if badKey || badValue {
		s.m.stats.invalidUTF8.Add(1)
	}
	s.lock()
	defer s.mu.Unlock()
	if err != nil {
		s.fail(slotValue, key, fmt.Errorf("cookiesession: value for %q: %w", key, err))
		return
	}
	s.forget(slotValue, key)
	switch i := s.env.find(key); {
	case i < 0:
		s.env.Values = append(s.env.Values, field{key, b})
	case s.env.Values[i].raw == b:
		return
	default:
		s.env.Values[i].raw = b
	}
	s.change()
}

// encodeValue is json.Marshal(value) with a shortcut for an int and a
// string, giving the same text in a fraction of the time.
func encodeValue(value any) (string, error) {
	switch v := value.(type) {
	case int:
		return strconv.Itoa(v), nil
	case string:
		if asIs(v) {
			return `"` + v + `"`, nil
		}
	}
	b, err := json.Marshal(value)
	if err == nil && nestingDepth(b) > maxNesting {
		err = fmt.Errorf("nested more than %d levels deep, which encoding/json cannot read back", maxNesting)
	}
	return string(b), err
}

// maxNesting is how deeply encoding/json nests arrays and objects when it
// decodes; it writes any depth, but refuses to read more.
const maxNesting = 10000

// nestingDepth returns how deeply the arrays and objects of the valid JSON
// b nest, skipping what lies inside strings.
func nestingDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped byte
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// Delete removes key, if present.
func (s *Session) Delete(key string) {
	key, _ = validUTF8(key)
	s.lock()
	defer s.mu.Unlock()
	s.forget(slotValue, key)
	if i := s.env.find(key); i >= 0 {
		s.env.Values = slices.Delete(s.env.Values, i, i+1)
		s.change()
	}
}

// Clear removes every value and flash message but keeps the session, its
// ID and its lifetime.
func (s *Session) Clear() {
	s.lock()
	defer s.mu.Unlock()
	s.forgetAll(slotValue)
	s.forgetAll(slotFlash)
	if len(s.env.Values) > 0 || len(s.env.Flashes) > 0 {
		s.env.Values, s.env.Flashes = nil, nil
		s.change()
	}
}

// Destroy ends the session: the response deletes its cookies. Values set
// afterwards start a new session with a new ID (a "logged out" flash
// message, say).
//
// Destroy clears only this client's cookies. A copy of the cookie taken
// earlier stays valid until it expires; see the README on revocation.
func (s *Session) Destroy() {
	s.lock()
	defer s.mu.Unlock()
	s.destroy()
}

// destroy is Destroy for a caller that holds s.mu.
func (s *Session) destroy() {
	s.reset(s.m.now())
	s.failed = nil
	s.change()
}

// Renew gives the session a new ID and a fresh lifetime: its creation time
// becomes now and its expiry Options.MaxAge from now (call SetMaxAge after
// Renew for another, where the format allows it: see SetMaxAge). It keeps the values, the flash messages, the subject
// and the SetTransient choice, so a login that offers "remember me" must
// call SetTransient either way. Call it when the user's privileges change,
// at login and logout, so an ID recorded before cannot be confused with
// the new session.
func (s *Session) Renew() {
	s.lock()
	defer s.mu.Unlock()
	now := s.m.now()
	s.env.ID = ""
	s.env.setCreated(now)
	s.env.Expires = now.Add(s.m.maxAge).Unix()
	s.forget(slotMaxAge, "")
	s.change()
}

// SetMaxAge makes the session expire d from now instead of at the time
// Options.MaxAge gave it, for example 30 days for "remember me". The new
// expiry is stored in the session, so it holds for later requests too. It
// is capped at 400 days; d <= 0 destroys the session.
//
// A format that carries an expiry but no creation time (LacksCreated, as
// iron-session's and Rails' cookies) has the creation time derived as the
// expiry less Options.MaxAge. With Options.Revocations or NotBefore set,
// a d other than Options.MaxAge would misdate the session: a longer one
// would make it look created at every read, out of reach of RevokeAll and
// NotBefore (and a session sealed so is refused when read); a shorter
// one, older than it is, refused by a revocation made before it existed.
// So the save fails until SetMaxAge(Options.MaxAge), Renew or Destroy:
// give such a format's sessions one lifetime, MaxAge.
func (s *Session) SetMaxAge(d time.Duration) {
	if d <= 0 {
		s.Destroy()
		return
	}
	s.lock()
	defer s.mu.Unlock()
	d = min(d, maxCookieLifetime)
	// Whole seconds, as the expiry is stored: a lifetime computed to be
	// MaxAge, with time.Until say, is MaxAge.
	if d.Round(time.Second) != s.m.maxAge.Round(time.Second) && s.m.traits.Lacks&(LacksCreated|LacksExpiry) == LacksCreated &&
		(s.m.revocations != nil || s.m.notBefore != 0) {
		s.fail(slotMaxAge, "", fmt.Errorf("cookiesession: SetMaxAge(%v): %v cookies carry no creation time; with Revocations or NotBefore set it is "+
			"taken as the expiry less Options.MaxAge (%v), so every session must keep that lifetime", d, s.m.format, s.m.maxAge))
		return
	}
	s.forget(slotMaxAge, "")
	s.env.Expires = s.m.now().Add(d).Unix()
	s.change()
}

// SetTransient overrides Options.Transient for this session: true makes
// the cookie last until the browser closes ("remember me" left unticked),
// false gives it a Max-Age so it survives a browser restart. The choice is
// stored in the session.
func (s *Session) SetTransient(transient bool) {
	s.lock()
	defer s.mu.Unlock()
	persist := !transient
	if s.env.Persist == nil || *s.env.Persist != persist {
		s.env.Persist = &persist
		s.change()
	}
}

// AddFlash adds a message to show once, typically on the page after a
// redirect. Bytes of msg that are not valid UTF-8 are stored as U+FFFD,
// as Set stores them, and counted in Counts.InvalidUTF8.
func (s *Session) AddFlash(msg string) {
	msg, bad := validUTF8(msg)
	if bad {
		s.m.stats.invalidUTF8.Add(1)
	}
	s.lock()
	defer s.mu.Unlock()
	if s.m.traits.Lacks&LacksFlashes != 0 {
		s.fail(slotFlash, "", fmt.Errorf("cookiesession: %v sessions carry no flash messages", s.m.format))
		return
	}
	s.env.Flashes = append(s.env.Flashes, msg)
	s.change()
}

// Flashes returns the flash messages in the order they were added and
// removes them from the session.
func (s *Session) Flashes() []string {
	s.lock()
	defer s.mu.Unlock()
	msgs := s.env.Flashes
	if len(msgs) > 0 {
		s.env.Flashes = nil
		s.change()
	}
	return msgs
}

// errInvalidUTF8 reports text that JSON cannot carry unchanged.
var errInvalidUTF8 = errors.New("not valid UTF-8")

// validUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, one for each such byte as encoding/json writes and
// reads it, and whether there was any.
func validUTF8(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s { // an invalid byte comes as utf8.RuneError, one at a time
		b.WriteRune(r)
	}
	return b.String(), true
}

// replacedInvalidUTF8 reports whether encoding/json replaced invalid UTF-8
// in s: it writes each invalid byte as the escape \ufffd, while a real
// U+FFFD stays unescaped and a backslash in the text is doubled.
func replacedInvalidUTF8(s string) bool {
	for i := 0; ; i++ {
		j := strings.Index(s[i:], `\ufffd`)
		if j < 0 {
			return false
		}
		i += j
		slashes := 0
		for k := i - 1; k >= 0 && s[k] == '\\'; k-- {
			slashes++
		}
		if slashes%2 == 0 {
			return true
		}
	}
}

// accessed reports whether the handler used the session, so the response
// depends on the cookie.
func (s *Session) accessed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// reportedFailure reports whether the caller was handed the failure of
// the last save and the session has not changed since.
func (s *Session) reportedFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reported
}

func (s *Session) markSent() {
	s.mu.Lock()
	s.sent = true
	s.mu.Unlock()
}

// commit returns the Set-Cookie lines that bring the browser's cookies in
// line with s, and marks s saved. report says the caller hands an error to
// the handler (Save, SaveHeader), which then answers for it.
//
// When the session cannot be saved, the cookies of a destroyed session
// (or of a bad cookie) are still deleted: the lines returned with the
// error do that, and the caller sends them, so that no failure leaves a
// logged-out user logged in.
func (s *Session) commit(report bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return nil, nil
	}
	lines, wrote, err := s.cookieLines()
	if err != nil && s.isNew {
		lines = s.deletions(nil, 0)
	}
	// A save that finds nothing new after another, or fails again as it
	// failed before, is not counted again.
	if err != nil && !s.failCounted || err == nil && (len(lines) > 0 || !s.saved) {
		s.m.countWrite(lines, wrote, err)
	}
	s.saved, s.failCounted = true, err != nil
	if err != nil {
		s.reported = s.reported || report
		return lines, err
	}
	return lines, nil
}

// cookieLines is commit's work, for a caller that holds s.mu: the lines,
// and those of them that set cookies (wrote); the others delete.
func (s *Session) cookieLines() (lines, wrote []string, err error) {
	if len(s.failed) > 0 {
		return nil, nil, s.failed[0].err
	}
	m := s.m
	keep := s.chunks
	populated := len(s.env.Values) > 0 || len(s.env.Flashes) > 0 || s.env.Subject != ""
	if (s.changed || s.reissue || s.touched) && (populated || !s.isNew) {
		s.id()
		// Room for the two fields Manager.save adds, in the same array.
		if wrote, err = m.encode(make([]string, 0, 3), &s.env, m.now()); err != nil {
			return nil, nil, err
		}
		keep = len(wrote)
		s.issued()
	}
	s.changed, s.reissue, s.touched = false, false, false
	return s.deletions(wrote, keep), wrote, nil
}

// deletions returns the lines that write the session (wrote), with the
// deletion of each cookie the browser holds beyond the first keep, and
// records that it holds keep. The caller holds s.mu.
func (s *Session) deletions(wrote []string, keep int) []string {
	m := s.m
	lines := wrote
	// Two valid sessions arrived, one of them most likely set for a
	// parent domain by a sibling subdomain: deleted only host-only, it
	// would come back on every request and log the user out for good.
	// Those deletions go first: a cookie jar that, as RFC 6265 5.3 says,
	// keys cookies by name, domain and path only (Go's net/http/cookiejar)
	// takes the one for the host's own domain to delete the host-only
	// cookie written with it, and applies the lines in order.
	if s.tossed != 0 {
		lines = append(m.appendTossedDeletions(nil, s.host, s.tossed), wrote...)
		s.tossed = 0
	}
	// Delete what the browser holds beyond the cookies the session needs
	// now: stale chunks, leftovers of a larger MaxChunks, or everything
	// after Destroy or a bad cookie. Only names this package writes, so a
	// response never carries more than maxChunksLimit deletions.
	kept := m.chunks.occupies(keep)
	for i := range m.chunks.names {
		if s.present&(1<<i) != 0 && kept&(1<<i) == 0 {
			lines = append(lines, m.deleteCookie(m.chunks.names[i]))
		}
	}
	s.chunks, s.present = keep, kept
	return lines
}
