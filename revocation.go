package cookiesession

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// A copied cookie stays valid until it expires; revoking it needs some
// server state. This file holds that state's interface, the in-memory
// list, and the Manager's three ways to revoke. The list answers from
// memory on every request that uses a session; a shared list (the
// redisrevocation module) keeps that memory current across replicas.

// SessionInfo is what a [RevocationList] is asked about: a session whose
// cookie verified and has not expired.
type SessionInfo struct {
	ID      string
	Subject string    // as set by Session.SetSubject; "" when none
	Created time.Time // creation or last Renew, to the millisecond
	Expires time.Time
}

// Revocation is one entry of a [RevocationList], of one of three kinds,
// each made by its constructor: [SessionRevocation], [SubjectRevocation]
// and [AllRevocation]. Lists read its fields; a Revocation built otherwise
// that is none of the three is refused by Revoke.
//
// Until is when the entry may be forgotten, because every session it
// revokes has expired by then. Times count in milliseconds: a session
// created in the millisecond of Before is kept, so that one renewed right
// after the revocation (to keep the current device logged in) survives it.
type Revocation struct {
	SessionID string    // that session, whatever its creation time
	Subject   string    // every session of the subject created before Before
	Before    time.Time // with neither ID nor subject: every session created before it
	Until     time.Time
}

// SessionRevocation revokes the session id until until.
func SessionRevocation(id string, until time.Time) Revocation {
	return Revocation{SessionID: id, Until: until}
}

// SubjectRevocation revokes every session of subject created before
// before, until until.
func SubjectRevocation(subject string, before, until time.Time) Revocation {
	return Revocation{Subject: subject, Before: before, Until: until}
}

// AllRevocation revokes every session created before before, until until.
func AllRevocation(before, until time.Time) Revocation {
	return Revocation{Before: before, Until: until}
}

// A RevocationList is the server state that ends sessions before they
// expire; pass it as Options.Revocations. Revoked is asked about every
// verified session on every request that uses one, inside the session's
// lazy decoding, so it must answer from memory and must not call back into
// the Session. Revoke records an entry, on every replica that shares the
// list; it returns an error, never dropping the entry silently, when that
// cannot be done.
type RevocationList interface {
	Revoked(ctx context.Context, s SessionInfo) bool
	Revoke(ctx context.Context, r Revocation) error
}

// info is what a RevocationList is told about the session e holds.
func (e *envelope) info() SessionInfo {
	return SessionInfo{ID: e.ID, Subject: e.Subject, Created: e.created(), Expires: time.Unix(e.Expires, 0)}
}

// errNothingToRevoke: the request's session cookie verified under no
// secret, so its session, if it has one, cannot be named. It matches
// ErrInvalid without repeating its "cookiesession: " prefix.
var errNothingToRevoke error = nothingToRevoke{}

type nothingToRevoke struct{}

func (nothingToRevoke) Error() string {
	return "cookiesession: nothing revoked: the session cookie is invalid"
}
func (nothingToRevoke) Unwrap() error { return ErrInvalid }

// errNoRevocations is returned by the Manager's Revoke methods when
// Options.Revocations is not set.
var errNoRevocations = errors.New("cookiesession: no Options.Revocations to record the revocation in")

// RevokeSession logs s out everywhere: the session the request's cookies
// carried is revoked on every replica sharing the list, whatever the
// handler did to s first (Renew and Destroy included) and also when this
// copy had expired or was revoked already, and so is every session ID
// this request sent in a cookie. Then s is destroyed, so this response
// deletes its cookies. A request without a session cookie that sent none
// has nothing to revoke; one whose session cookie verified under no secret
// gets an error, since its session, if any, is unknown. s is destroyed
// even when an error is returned, which then says that copies of the
// cookie elsewhere may still work.
//
// Each entry is kept 400 days, so that no copy of the session outlives
// it. Neither the copy at hand nor anything it records can bound that: a
// copy taken earlier keeps being re-issued wherever it is used, and one
// re-issued after Session.SetMaxAge (a sliding "remember me", say) carries
// a later expiry than any copy the user still has. No copy can expire
// later than 400 days after it was last written, since SetMaxAge caps
// lifetimes there. Every logout thus costs an entry for 400 days, to the
// end of that UTC day; see the revocation documentation on sizing the
// list. Ending the day there makes the entries of one session's logouts
// on one day the same entry, so that a shared list can tell a replayed
// logout from a new one and store it once.
func (m *Manager) RevokeSession(ctx context.Context, s *Session) error {
	ids, carried := s.end()
	switch {
	case m.traits.Lacks&LacksID != 0 && carried:
		return fmt.Errorf("cookiesession: %v sessions carry no ID, so RevokeSession cannot name this one (it is destroyed on this response); use RevokeSubject or RevokeAll", m.format)
	case len(ids) == 0 && carried:
		return errNothingToRevoke
	case len(ids) == 0:
		return nil
	case m.revocations == nil:
		return errNoRevocations
	}
	const day = 24 * time.Hour
	until := m.now().Add(maxCookieLifetime).Truncate(day).Add(day - time.Millisecond)
	var errs []error
	for _, id := range ids {
		if err := m.revocations.Revoke(ctx, SessionRevocation(id, until)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RevokeSubject revokes every session of subject (see Session.SetSubject)
// created before now, on every replica sharing the list: for a password
// change, "sign out of all devices" or a locked account. Sessions created
// afterwards are not affected; to keep the current device logged in, call
// Renew on its session after this. The entry is kept 400 days, the
// longest a session can live.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	if subject == "" {
		return errors.New("cookiesession: RevokeSubject needs a subject")
	}
	return m.revokeBefore(ctx, subject)
}

// RevokeAll revokes every session created before now, on every replica
// sharing the list and without a restart: a kill switch after a breach.
func (m *Manager) RevokeAll(ctx context.Context) error {
	return m.revokeBefore(ctx, "")
}

func (m *Manager) revokeBefore(ctx context.Context, subject string) error {
	if m.revocations == nil {
		return errNoRevocations
	}
	now := m.now()
	if subject == "" {
		return m.revocations.Revoke(ctx, AllRevocation(now, now.Add(maxCookieLifetime)))
	}
	return m.revocations.Revoke(ctx, SubjectRevocation(subject, now, now.Add(maxCookieLifetime)))
}

// MemoryRevocations is a [RevocationList] in this process's memory: for a
// single replica, for tests, and as the local copy that a shared list
// keeps current. Entries are dropped once they are past Until. It is safe
// for concurrent use; create it with [NewMemoryRevocations].
type MemoryRevocations struct {
	mu       sync.RWMutex
	sessions idTable // revoked session IDs, with their Until
	subjects map[string]span
	all      int64 // sessions created before it are revoked; Unix milliseconds
	allUntil int64 // until when all is kept; Unix milliseconds
	kept     int   // entries after the last pruning
	now      func() time.Time
}

// span is a subject's entry: sessions created before before are revoked
// until until (Unix milliseconds).
type span struct{ before, until int64 }

// NewMemoryRevocations returns an empty list.
func NewMemoryRevocations() *MemoryRevocations {
	return &MemoryRevocations{sessions: newIDTable(), subjects: map[string]span{}, now: time.Now}
}

// Revoked reports whether s is revoked by an entry of the list. It takes
// a read lock and makes no allocation.
func (l *MemoryRevocations) Revoked(_ context.Context, s SessionInfo) bool {
	created := s.Created.UnixMilli()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if created < l.all {
		return true
	}
	if l.sessions.has(s.ID) {
		return true
	}
	if s.Subject != "" {
		if e, ok := l.subjects[s.Subject]; ok && created < e.before {
			return true
		}
	}
	return false
}

// Revoke adds r to the list. Entries only ever widen: a later Before or
// Until for the same subject replaces an earlier one, never the other way
// round, so entries can arrive in any order and more than once.
func (l *MemoryRevocations) Revoke(_ context.Context, r Revocation) error {
	if err := r.check(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.SessionID != "" {
		l.sessions.grow(1)
		l.sessions.put(l.sessions.key(r.SessionID), seconds(r.Until))
	} else {
		l.add(r)
	}
	l.pruneIfDoubled()
	return nil
}

// Covers reports whether an entry of the list covers r: one of the same
// kind and name that revokes every session r does, until at least as
// late. A shared list asks it so as not to share again what it holds
// already: a logout replayed with the same cookie then costs nothing.
func (l *MemoryRevocations) Covers(r Revocation) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	before, until := unixMilli(r.Before), unixMilli(r.Until)
	switch {
	case r.SessionID != "":
		s := l.sessions.slots[l.sessions.slot(l.sessions.key(r.SessionID))]
		return (s.lo != 0 || s.hi != 0) && s.until >= seconds(r.Until)
	case r.Subject != "":
		e, ok := l.subjects[r.Subject]
		return ok && e.before >= before && e.until >= until
	}
	return l.all >= before && l.allUntil >= until
}

// RevokeMany adds every entry of rs, as Revoke does each, or none when
// one of them is invalid. A large batch, such as a shared list loading
// what other replicas revoked, takes about half the time of a Revoke
// each: one lock, one resize, and cache misses waited for together.
func (l *MemoryRevocations) RevokeMany(_ context.Context, rs []Revocation) error {
	sessions := 0
	for i, r := range rs {
		if err := r.check(); err != nil {
			return fmt.Errorf("revocation %d: %w", i, err)
		}
		if r.SessionID != "" {
			sessions++
		}
	}
	// The seed never changes, so the keys need no lock.
	entries := make([]idSlot, 0, sessions)
	for _, r := range rs {
		if r.SessionID != "" {
			key := l.sessions.key(r.SessionID)
			entries = append(entries, idSlot{uint32(key), uint32(key >> 32), seconds(r.Until)})
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sessions.putMany(entries)
	for _, r := range rs {
		if r.SessionID == "" {
			l.add(r)
		}
	}
	l.pruneIfDoubled()
	return nil
}

// Grow makes room for n more revoked sessions, so that adding them
// does not resize the list's table on the way: a replica that knows how
// many entries it is about to load saves the copies. n beyond 2^22
// (4,194,304 entries, a table of about 84 MB) is taken as 2^22, so that no
// count read from elsewhere can ask for more memory than a replica has;
// entries beyond it still fit, the table growing as they come. n ≤ 0
// does nothing.
func (l *MemoryRevocations) Grow(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sessions.grow(n)
}

// add records a subject's or every session's entry.
func (l *MemoryRevocations) add(r Revocation) {
	if r.Subject != "" {
		e := l.subjects[r.Subject]
		l.subjects[r.Subject] = span{max(e.before, unixMilli(r.Before)), max(e.until, unixMilli(r.Until))}
		return
	}
	l.all = max(l.all, unixMilli(r.Before))
	l.allUntil = max(l.allUntil, unixMilli(r.Until))
}

// pruneIfDoubled drops expired entries whenever the list has doubled since
// the last time and fills a quarter of its table: work linear in the
// table's size, paid once per doubling, and not at every doubling of the
// first entries loaded into a table grown ahead for many.
func (l *MemoryRevocations) pruneIfDoubled() {
	if n := l.sessions.n + len(l.subjects); n >= 2*l.kept+1024 && 4*n >= len(l.sessions.slots) {
		l.prune(l.now().UnixMilli())
	}
}

func (l *MemoryRevocations) prune(now int64) {
	l.sessions.prune(time.UnixMilli(now))
	for subject, e := range l.subjects {
		if e.until <= now {
			delete(l.subjects, subject)
		}
	}
	l.kept = l.sessions.n + len(l.subjects)
}

// Len returns how many session and subject entries the list holds.
func (l *MemoryRevocations) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.sessions.n + len(l.subjects)
}

// idTable is a set of revoked session IDs, each with the time until which
// it is kept, in one flat array with open addressing: 12 bytes a slot, at
// most twice as many slots as entries, so 16 to 24 bytes an entry when
// sized ahead with Grow and 16 to 32 when grown one entry at a time, and
// no pointer for the garbage collector to follow. A million entries are
// a few tens of megabytes, where a map of strings took about 80 bytes
// each. A slot holds its key and its time together, so that recording an
// entry misses the cache once, not twice.
//
// An ID is kept as 64 bits of a keyed hash (hash/maphash, seeded at random
// per table), not as itself. Two IDs then share a key with odds of about
// n/2^64 for each check, n being the entries: with a million, once in
// eighteen million million requests. A shared key can only refuse a
// session that is not revoked, never accept one that is, and the seed
// differs per process, so no ID can be made to collide on purpose.
type idTable struct {
	seed    maphash.Seed
	slots   []idSlot
	n       int    // entries
	touched uint32 // see putMany
}

// idSlot is a key in two halves, so that the slot takes 12 bytes, not 16,
// and the time until which it is kept, in Unix seconds rounded up (uint32
// lasts until 2106). Key 0 marks an empty slot.
type idSlot struct{ lo, hi, until uint32 }

func (s idSlot) key() uint64 { return uint64(s.hi)<<32 | uint64(s.lo) }

func newIDTable() idTable {
	return idTable{seed: maphash.MakeSeed(), slots: make([]idSlot, 16)}
}

func (t *idTable) key(id string) uint64 {
	return max(maphash.String(t.seed, id), 1) // 0 marks an empty slot
}

// seconds is until as a slot keeps it.
func seconds(until time.Time) uint32 {
	return uint32(min(max(unixMilli(until)/1000+1, 0), math.MaxUint32)) // rounded up, and never past 2106
}

// unixMilli is t.UnixMilli, but for a time past what an int64 of
// milliseconds holds (from the year 292,278,994 on, both ways), which it
// takes as the last (or first) such millisecond rather than wrapping
// around: an entry until the end of time is kept, not taken as expired.
func unixMilli(t time.Time) int64 {
	switch {
	case t.After(maxMilli):
		return math.MaxInt64
	case t.Before(minMilli):
		return math.MinInt64
	}
	return t.UnixMilli()
}

var maxMilli, minMilli = time.UnixMilli(math.MaxInt64), time.UnixMilli(math.MinInt64)

// home is where key's probe starts: the key's top half scaled to the
// table (a multiply and a shift rather than a modulo), so that the table
// can have any size, not only a power of two, and keys in order land in
// slots in order.
func (t *idTable) home(key uint64) int {
	return int((key >> 32) * uint64(len(t.slots)) >> 32)
}

// slot returns where key is, or the empty slot where it would go.
func (t *idTable) slot(key uint64) int {
	lo, hi := uint32(key), uint32(key>>32)
	i := t.home(key)
	for s := t.slots[i]; (s.lo != 0 || s.hi != 0) && (s.lo != lo || s.hi != hi); s = t.slots[i] {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	return i
}

func (t *idTable) has(id string) bool {
	s := t.slots[t.slot(t.key(id))]
	return s.lo != 0 || s.hi != 0
}

// put records key until until, or later if it was already. The table
// must have room for one more entry.
func (t *idTable) put(key uint64, until uint32) {
	s := &t.slots[t.slot(key)]
	if s.lo == 0 && s.hi == 0 {
		s.lo, s.hi = uint32(key), uint32(key>>32)
		t.n++
	}
	s.until = max(s.until, until)
}

// grow makes room for more entries, keeping the table at most three
// quarters full. Grown an entry at a time, it doubles, so that the copies
// cost a constant per entry; grown ahead of many entries, it takes five
// slots for three, whose probes stay short.
func (t *idTable) grow(more int) {
	need := t.n + min(max(more, 0), maxGrow)
	if 4*need <= 3*len(t.slots) {
		return
	}
	size := 2 * len(t.slots)
	if more > 1 {
		size = max(size, need/3*5+16)
	}
	t.rebuild(size, 0)
}

// maxGrow bounds a table grown ahead: 2^22 entries, about 84 MB. A
// busy service revokes a few million sessions in 400 days; more than
// that grow the table as they arrive.
const maxGrow = 1 << 22

// putMany records entries, as put does each. A large batch, such as a
// replica loading a shared list, misses the cache at almost every entry;
// reading each group's slots first, with no branch on what is read, lets
// the processor wait for those misses together rather than one by one.
func (t *idTable) putMany(entries []idSlot) {
	t.grow(len(entries))
	const group = 16
	for len(entries) > 0 {
		g := entries[:min(group, len(entries))]
		entries = entries[len(g):]
		var touched uint32
		for _, e := range g {
			touched |= t.slots[t.home(e.key())].until
		}
		t.touched = touched // so that the reads are not left out
		for _, e := range g {
			t.put(e.key(), e.until)
		}
	}
}

// prune drops the entries that are past their time at now. The table
// keeps its size unless those left would fill less than an eighth of it:
// it may have been grown ahead of entries still to come. Then it shrinks
// to twice as many slots as entries.
func (t *idTable) prune(now time.Time) {
	secs := uint32(min(max(now.Unix(), 0), math.MaxUint32))
	kept := 0
	for _, s := range t.slots {
		if (s.lo != 0 || s.hi != 0) && s.until > secs {
			kept++
		}
	}
	size := len(t.slots)
	if 8*kept < size {
		size = max(2*kept, 16)
	}
	if kept < t.n || size < len(t.slots) {
		t.rebuild(size, secs)
	}
}

// rebuild moves the entries until after past into size slots. Slots are
// in the order of their keys (but for a few that wrapped around the end),
// in the old table as in the new, so both are
// walked from start to end.
func (t *idTable) rebuild(size int, past uint32) {
	old := t.slots
	t.slots, t.n = make([]idSlot, size), 0
	for _, s := range old {
		if (s.lo != 0 || s.hi != 0) && s.until > past {
			t.slots[t.slot(s.key())] = s
			t.n++
		}
	}
}

// check reports a Revocation that names no clear set of sessions.
func (r Revocation) check() error {
	switch {
	case r.SessionID != "" && r.Subject != "":
		return errors.New("cookiesession: a Revocation names a session or a subject, not both")
	case r.SessionID == "" && r.Before.IsZero():
		return errors.New("cookiesession: a Revocation of a subject or of every session needs Before")
	case r.Until.IsZero():
		return errors.New("cookiesession: a Revocation needs Until, when the sessions it revokes have expired")
	}
	return nil
}
