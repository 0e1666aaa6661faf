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
// secret, so its session, if it has one, cannot be named.
var errNothingToRevoke = fmt.Errorf("cookiesession: nothing revoked: %w", ErrInvalid)

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
// lifetimes there. Every logout thus costs an entry for 400 days; see the
// revocation documentation on sizing the list.
func (m *Manager) RevokeSession(ctx context.Context, s *Session) error {
	ids, carried := s.end()
	switch {
	case len(ids) == 0 && carried:
		return errNothingToRevoke
	case len(ids) == 0:
		return nil
	case m.revocations == nil:
		return errNoRevocations
	}
	until := m.now().Add(maxCookieLifetime)
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
	until := r.Until.UnixMilli()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case r.SessionID != "":
		l.sessions.put(r.SessionID, r.Until)
	case r.Subject != "":
		e := l.subjects[r.Subject]
		l.subjects[r.Subject] = span{max(e.before, r.Before.UnixMilli()), max(e.until, until)}
	default:
		l.all = max(l.all, r.Before.UnixMilli())
	}
	// Drop expired entries whenever the list has doubled since the last
	// time: linear work, paid once per doubling.
	if n := l.sessions.n + len(l.subjects); n >= 2*l.kept+1024 {
		l.prune(l.now().UnixMilli())
	}
	return nil
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
// it is kept, in two flat arrays with open addressing: 12 bytes a slot, at
// most twice as many slots as entries, so 16 to 32 bytes an entry, and no
// pointer for the garbage collector to follow. A million entries are a
// few tens of megabytes, where a map of strings took about 80 bytes each.
//
// An ID is kept as 64 bits of a keyed hash (hash/maphash, seeded at random
// per table), not as itself. Two IDs then share a key with odds of about
// n/2^64 for each check, n being the entries: with a million, once in
// eighteen million million requests. A shared key can only refuse a
// session that is not revoked, never accept one that is, and the seed
// differs per process, so no ID can be made to collide on purpose.
type idTable struct {
	seed  maphash.Seed
	keys  []uint64 // 0: an empty slot
	until []uint32 // Unix seconds, rounded up; uint32 lasts until 2106
	n     int      // entries
}

func newIDTable() idTable {
	return idTable{seed: maphash.MakeSeed(), keys: make([]uint64, 16), until: make([]uint32, 16)}
}

func (t *idTable) key(id string) uint64 {
	return max(maphash.String(t.seed, id), 1) // 0 marks an empty slot
}

// slot returns where key is, or the empty slot where it would go.
func (t *idTable) slot(key uint64) int {
	mask := len(t.keys) - 1
	i := int(key) & mask
	for t.keys[i] != 0 && t.keys[i] != key {
		i = (i + 1) & mask
	}
	return i
}

func (t *idTable) has(id string) bool {
	return t.keys[t.slot(t.key(id))] != 0
}

// put records id until until, or later if it was already.
func (t *idTable) put(id string, until time.Time) {
	secs := uint32(min(max((until.UnixMilli()+999)/1000, 0), math.MaxUint32))
	key := t.key(id)
	i := t.slot(key)
	if t.keys[i] == 0 {
		if 4*(t.n+1) > 3*len(t.keys) { // at most three quarters full
			t.rebuild(2*len(t.keys), 0)
			i = t.slot(key)
		}
		t.keys[i] = key
		t.n++
	}
	t.until[i] = max(t.until[i], secs)
}

// prune drops the entries that are past their time at now.
func (t *idTable) prune(now time.Time) {
	secs := uint32(min(max(now.Unix(), 0), math.MaxUint32))
	kept := 0
	for i, k := range t.keys {
		if k != 0 && t.until[i] > secs {
			kept++
		}
	}
	size := 16
	for 4*kept > 3*size {
		size *= 2
	}
	t.rebuild(size, secs)
}

// rebuild moves the entries until after past into size slots.
func (t *idTable) rebuild(size int, past uint32) {
	keys, until := t.keys, t.until
	t.keys, t.until, t.n = make([]uint64, size), make([]uint32, size), 0
	for i, k := range keys {
		if k != 0 && until[i] > past {
			j := t.slot(k)
			t.keys[j], t.until[j] = k, until[i]
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
