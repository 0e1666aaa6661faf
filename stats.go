package cookiesession

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// A Manager counts what its sessions do, so that an operator sees a
// rotation's progress, cookies refused by the thousand, or sessions
// creeping towards the 4 KB limit, where a refused cookie alone is only a
// debug line. The request path pays atomic adds only: no allocation, no
// lock. Refusals are also summed up at the default log level, at most once
// per Options.RefusalSummary.

// Refusal is why a request's session cookie gave no session.
type Refusal int

// The reasons a session cookie is refused.
const (
	// RefusedNotVerified: no secret verifies it (another secret, a
	// changed byte, a stale chunk mixed with current ones, or not ours).
	RefusedNotVerified Refusal = iota
	// RefusedMalformed: not a value this package writes.
	RefusedMalformed
	// RefusedChunkMissing: a chunked session arrived without one of its
	// cookies (ErrChunkMissing).
	RefusedChunkMissing
	// RefusedTooManyCandidates: more values or ways to join them than a
	// browser sends, or two valid sessions under one name (cookie tossing).
	RefusedTooManyCandidates
	// RefusedExpired: verified, but past its expiry or idle timeout.
	RefusedExpired
	// RefusedRevoked: verified, but created before NotBefore or listed in
	// Options.Revocations.
	RefusedRevoked

	numRefusals
)

// String returns the reason as used in logs and metrics.
func (r Refusal) String() string {
	switch r {
	case RefusedNotVerified:
		return "not_verified"
	case RefusedMalformed:
		return "malformed"
	case RefusedChunkMissing:
		return "chunk_missing"
	case RefusedTooManyCandidates:
		return "too_many_candidates"
	case RefusedExpired:
		return "expired"
	case RefusedRevoked:
		return "revoked"
	}
	return fmt.Sprintf("Refusal(%d)", int(r))
}

// refusalOf sorts an error of decode into its Refusal.
func refusalOf(err error) Refusal {
	switch {
	case errors.Is(err, ErrExpired):
		return RefusedExpired
	case errors.Is(err, ErrRevoked):
		return RefusedRevoked
	case errors.Is(err, ErrChunkMissing):
		return RefusedChunkMissing
	case errors.Is(err, errNotVerified):
		return RefusedNotVerified
	case errors.Is(err, errManyValues), errors.Is(err, errManyCombos),
		errors.Is(err, errJoinedTooBig), errors.Is(err, errTwoSessions):
		return RefusedTooManyCandidates
	}
	return RefusedMalformed
}

// Bucket is one bar of a size histogram: how many observations were at
// most Le bytes (and more than the previous bucket's Le).
type Bucket struct {
	Le    int // upper bound in bytes; the last bucket has no bound (-1)
	Count uint64
}

// Counts is a snapshot of what a Manager's sessions did since it was made.
// Each session a request uses counts once as read: verified, migrated,
// without a cookie, or refused. Each save counts once as written,
// unchanged, deleted, too large or failed.
type Counts struct {
	// Secrets counts the sessions each secret in force verified, in the
	// order of the secrets: while an old secret still verifies a share,
	// its cookies are live (see Manager.SafeToRemove).
	Secrets []SecretCounts
	// SigningSince is when the first secret began sealing in this Manager.
	SigningSince time.Time
	// Migrated counts gorilla/sessions cookies read (Options.Gorilla).
	Migrated uint64
	// NoCookie counts sessions used by requests that carried none.
	NoCookie uint64
	// Refused counts cookies that gave a new session, by Refusal. Every
	// reason has an entry, zero or not; a map, so that a reason added in a
	// later version changes no program.
	Refused map[Refusal]uint64

	// Written counts saves that set the session's cookies, Cookies the
	// cookies they set.
	Written, Cookies uint64
	// Unchanged counts saves that sent nothing, Deleted saves that only
	// deleted cookies (Destroy, a bad cookie cleared).
	Unchanged, Deleted uint64
	// TooLarge counts saves refused with ErrTooLarge, Failed those refused
	// otherwise (a value that could not be stored).
	TooLarge, Failed uint64

	// CookieLine is the size of the largest Set-Cookie line of each save
	// that wrote, against the 4,096 bytes browsers keep.
	CookieLine []Bucket
	// CookieHeader is the bytes of the session's cookies in each request's
	// Cookie header, against the 8 KB proxies accept for the whole field.
	CookieHeader []Bucket
}

// SecretCounts is what one secret verified.
type SecretCounts struct {
	Fingerprint  string    // SecretFingerprint of the secret
	Verified     uint64    // sessions it verified
	Recent       uint64    // sessions it verified in the last hour
	LastVerified time.Time // when it last verified one; zero: never
}

// Bucket bounds: fine near the limits that matter, where a session that
// grows would soon fail.
var (
	cookieLineBounds   = []int{1024, 2048, 3072, 3584, 3840, 4096}
	cookieHeaderBounds = []int{1024, 2048, 4096, 6144, 7168, 8192}
)

// histogram counts sizes into buckets with atomic adds.
type histogram struct {
	bounds []int
	counts []atomic.Uint64 // one per bound, and one past the last
}

func newHistogram(bounds []int) histogram {
	return histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(n int) {
	i := 0
	for i < len(h.bounds) && n > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
}

func (h *histogram) snapshot() []Bucket {
	out := make([]Bucket, len(h.counts))
	for i := range h.counts {
		le := -1
		if i < len(h.bounds) {
			le = h.bounds[i]
		}
		out[i] = Bucket{Le: le, Count: h.counts[i].Load()}
	}
	return out
}

// stats is what a Manager counts.
type stats struct {
	migrated     atomic.Uint64
	noCookie     atomic.Uint64
	refused      [numRefusals]atomic.Uint64
	written      atomic.Uint64
	cookies      atomic.Uint64
	unchanged    atomic.Uint64
	deleted      atomic.Uint64
	tooLarge     atomic.Uint64
	failed       atomic.Uint64
	cookieLine   histogram
	cookieHeader histogram

	// For the refusal summary: the refusals and the accepted reads since
	// the last one, and when it was logged (Unix nanoseconds).
	pending      [numRefusals]atomic.Uint64
	pendingOK    atomic.Uint64
	lastSummary  atomic.Int64
	summaryEvery time.Duration // 0: never
	started      time.Time     // when the Manager was made
}

func newStats(summaryEvery time.Duration, now time.Time) stats {
	return stats{
		cookieLine:   newHistogram(cookieLineBounds),
		cookieHeader: newHistogram(cookieHeaderBounds),
		summaryEvery: summaryEvery,
		started:      now,
	}
}

// Counts returns what m's sessions did since m was made. Reading them is
// cheap and does not stop the counting.
func (m *Manager) Counts() Counts {
	s := &m.stats
	set := m.secrets.Load()
	c := Counts{
		Secrets:      make([]SecretCounts, len(set.counters)),
		SigningSince: set.since,
		Migrated:     s.migrated.Load(),
		NoCookie:     s.noCookie.Load(),
		Written:      s.written.Load(),
		Cookies:      s.cookies.Load(),
		Unchanged:    s.unchanged.Load(),
		Deleted:      s.deleted.Load(),
		TooLarge:     s.tooLarge.Load(),
		Failed:       s.failed.Load(),
		CookieLine:   s.cookieLine.snapshot(),
		CookieHeader: s.cookieHeader.snapshot(),
	}
	now := m.now()
	for i, sc := range set.counters {
		c.Secrets[i] = SecretCounts{Fingerprint: sc.fingerprint, Verified: sc.verified.Load(), Recent: sc.recentCount(now)}
		if last := sc.last.Load(); last != 0 {
			c.Secrets[i].LastVerified = time.Unix(0, last)
		}
	}
	c.Refused = make(map[Refusal]uint64, len(s.refused))
	for r := range s.refused {
		c.Refused[Refusal(r)] = s.refused[r].Load()
	}
	return c
}

// countRead records how a session's cookies were read: err and d as decode
// returned them, at now.
func (m *Manager) countRead(d *decoded, err error, now time.Time) {
	s := &m.stats
	if d.headerBytes > 0 {
		s.cookieHeader.observe(d.headerBytes)
	}
	switch {
	case err != nil:
		r := refusalOf(err)
		s.refused[r].Add(1)
		s.pending[r].Add(1)
		m.maybeSummarize()
	case d.chunks == 0:
		s.noCookie.Add(1)
	case d.format == formatGorilla:
		s.migrated.Add(1)
		s.pendingOK.Add(1)
	default:
		d.secret.count(now)
		s.pendingOK.Add(1)
	}
}

// countWrite records the outcome of one save.
func (m *Manager) countWrite(lines []string, wrote int, err error) {
	s := &m.stats
	switch {
	case errors.Is(err, ErrTooLarge):
		s.tooLarge.Add(1)
	case err != nil:
		s.failed.Add(1)
	case wrote > 0:
		s.written.Add(1)
		s.cookies.Add(uint64(wrote))
		largest := 0
		for _, l := range lines[:wrote] {
			largest = max(largest, len(l))
		}
		s.cookieLine.observe(largest)
	case len(lines) > 0:
		s.deleted.Add(1)
	default:
		s.unchanged.Add(1)
	}
}

// maybeSummarize logs, at most once per summaryEvery, one warning with the
// refusals since the last one, and a hint where the counts suggest a
// cause. It runs only when a cookie was refused.
func (m *Manager) maybeSummarize() {
	s := &m.stats
	if s.summaryEvery <= 0 {
		return
	}
	// Times are offsets from the Manager's start: its monotonic clock,
	// which a wall-clock step cannot move.
	now := int64(m.now().Sub(s.started))
	last := s.lastSummary.Load()
	if now-last < int64(s.summaryEvery) || !s.lastSummary.CompareAndSwap(last, now) {
		return
	}
	args := []any{"cookie", m.name, "since_last_summary", time.Duration(now - last).Round(time.Second).String()}
	if last < 0 { // the first
		args[2], args[3] = "since_start", time.Duration(now).Round(time.Second).String()
	}
	var counts [numRefusals]uint64
	total := uint64(0)
	for r := range counts {
		counts[r] = s.pending[r].Swap(0)
		total += counts[r]
		if counts[r] > 0 {
			args = append(args, Refusal(r).String(), counts[r])
		}
	}
	ok := s.pendingOK.Swap(0)
	args = append(args, "accepted", ok)
	if hint := refusalHint(counts, ok, m.now().Sub(m.secrets.Load().changed)); hint != "" {
		args = append(args, "hint", hint)
	}
	msg := fmt.Sprintf("cookiesession: %d session cookies refused; each was a new session", total)
	if total == 1 {
		msg = "cookiesession: 1 session cookie refused; it was a new session"
	}
	m.log().Warn(msg, args...)
}

// refusalHint suggests a cause for refusals, or returns "". sinceChange
// is how long the secrets in force have been.
func refusalHint(counts [numRefusals]uint64, accepted uint64, sinceChange time.Duration) string {
	var hints []string
	nv := counts[RefusedNotVerified]
	if nv >= 10 && nv >= accepted && sinceChange < 30*time.Minute {
		hints = append(hints, "most cookies verify under no secret soon after the secrets changed: was a secret removed while its cookies were still live?")
	}
	if counts[RefusedChunkMissing] > 0 {
		hints = append(hints, "chunks go missing: a proxy or client drops cookies past its Cookie header limit (8 KB for nginx); store less or lower MaxChunks")
	}
	if counts[RefusedTooManyCandidates] > 0 {
		hints = append(hints, "several cookies of the session's name arrive: tossed from a sibling subdomain? a __Host- name prevents it")
	}
	return strings.Join(hints, "; ")
}
