package cookiesession

import (
	"context"
	"errors"
	"fmt"
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
	sessions map[string]int64 // ID -> Until, Unix milliseconds
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
	return &MemoryRevocations{sessions: map[string]int64{}, subjects: map[string]span{}, now: time.Now}
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
	if _, ok := l.sessions[s.ID]; ok {
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
		l.sessions[r.SessionID] = max(l.sessions[r.SessionID], until)
	case r.Subject != "":
		e := l.subjects[r.Subject]
		l.subjects[r.Subject] = span{max(e.before, r.Before.UnixMilli()), max(e.until, until)}
	default:
		l.all = max(l.all, r.Before.UnixMilli())
	}
	// Drop expired entries whenever the list has doubled since the last
	// time: linear work, paid once per doubling.
	if n := len(l.sessions) + len(l.subjects); n >= 2*l.kept+1024 {
		l.prune(l.now().UnixMilli())
	}
	return nil
}

func (l *MemoryRevocations) prune(now int64) {
	for id, until := range l.sessions {
		if until <= now {
			delete(l.sessions, id)
		}
	}
	for subject, e := range l.subjects {
		if e.until <= now {
			delete(l.subjects, subject)
		}
	}
	l.kept = len(l.sessions) + len(l.subjects)
}

// Len returns how many session and subject entries the list holds.
func (l *MemoryRevocations) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.sessions) + len(l.subjects)
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
