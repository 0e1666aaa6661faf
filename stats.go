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
	// InvalidUTF8 counts keys, values and flash messages given with text
	// that is not valid UTF-8, stored with U+FFFD in its place (see
	// Session.Set).
	InvalidUTF8 uint64

	// CookieLine is the size of the largest Set-Cookie line of each save
	// that wrote, against the 4,096 bytes browsers keep; CookieLineSum is
	// the sum of those sizes, in bytes.
	CookieLine    []Bucket
	CookieLineSum uint64
	// CookieHeader is the bytes of the session's cookies in each request's
	// Cookie header, against the 8 KB proxies accept for the whole field;
	// CookieHeaderSum is the sum of those sizes, in bytes.
	CookieHeader    []Bucket
	CookieHeaderSum uint64

	// Removed holds the secrets ReplaceSecrets took out of force while
	// the Manager ran, most recently removed first, with their counts as
	// they were when removed (at most 64). A secret put back continues
	// its counts, so that a count exported per fingerprint only ever
	// grows within a process.
	Removed []SecretCounts
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

// histogram counts sizes into buckets with atomic adds, and sums them
// so that an exporter can give a mean (Prometheus's _sum). A snapshot
// taken while a size is counted may hold it in the buckets and not yet in
// the sum: a monitoring figure can afford that, and a lock would cost
// every request.
type histogram struct {
	bounds []int
	counts []atomic.Uint64 // one per bound, and one past the last
	sum    atomic.Uint64
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
	h.sum.Add(uint64(n))
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
	invalidUTF8  atomic.Uint64
	cookieLine   histogram
	cookieHeader histogram

	// For the refusal summary: the refusals since the last one, those
	// sealed with a removed secret, those of a format without creation
	// time that revocation could not date, and the accepted reads since
	// the first refusal of the period; armed while a summary is due.
	pending        [numRefusals]atomic.Uint64
	pendingRemoved atomic.Uint64
	pendingUndated atomic.Uint64
	pendingOK      atomic.Uint64
	armed          atomic.Bool
	summaryEvery   time.Duration // 0: never
}

func newStats(summaryEvery time.Duration) stats {
	return stats{
		cookieLine:   newHistogram(cookieLineBounds),
		cookieHeader: newHistogram(cookieHeaderBounds),
		summaryEvery: summaryEvery,
	}
}

// Counts returns what m's sessions did since m was made. Reading them is
// cheap and does not stop the counting.
func (m *Manager) Counts() Counts {
	return m.counts(m.secrets.Load())
}

// counts returns the counts with those of the secrets of set.
func (m *Manager) counts(set *secretSet) Counts {
	s := &m.stats
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
		InvalidUTF8:  s.invalidUTF8.Load(),
		CookieLine:   s.cookieLine.snapshot(),
		CookieHeader: s.cookieHeader.snapshot(),
	}
	c.CookieLineSum, c.CookieHeaderSum = s.cookieLine.sum.Load(), s.cookieHeader.sum.Load()
	now := m.now()
	for i, sc := range set.counters {
		c.Secrets[i] = sc.snapshot(now)
	}
	for _, sc := range set.retired {
		c.Removed = append(c.Removed, sc.snapshot(now))
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
		if s.summaryEvery <= 0 {
			break
		}
		s.pending[r].Add(1)
		if errors.Is(err, errRemovedSecret) {
			s.pendingRemoved.Add(1)
		}
		if errors.Is(err, errTimeless) || errors.Is(err, errLongLived) {
			s.pendingUndated.Add(1)
		}
		// The first refusal of a period arms the summary's timer, so that
		// it is written whatever traffic follows, and nothing is left
		// running once no cookie is refused.
		if !s.armed.Load() && s.armed.CompareAndSwap(false, true) {
			s.pendingOK.Store(0)
			time.AfterFunc(s.summaryEvery, m.summarize)
		}
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

// countWrite records the outcome of one save: the lines sent, of which
// wrote set cookies.
func (m *Manager) countWrite(lines, wrote []string, err error) {
	s := &m.stats
	switch {
	case errors.Is(err, ErrTooLarge):
		s.tooLarge.Add(1)
	case err != nil:
		s.failed.Add(1)
	case len(wrote) > 0:
		s.written.Add(1)
		s.cookies.Add(uint64(len(wrote)))
		largest := 0
		for _, l := range wrote {
			largest = max(largest, len(l))
		}
		s.cookieLine.observe(largest)
	case len(lines) > 0:
		s.deleted.Add(1)
	default:
		s.unchanged.Add(1)
	}
}

// summarize logs one warning with the refusals since the last one, and a
// hint where the counts suggest a cause. It runs one period after the
// first refusal of the period.
func (m *Manager) summarize() {
	s := &m.stats
	s.armed.Store(false) // a refusal from now on arms the next summary
	var counts [numRefusals]uint64
	total := uint64(0)
	args := []any{"cookie", m.name, "period", s.summaryEvery.String()}
	for r := range counts {
		counts[r] = s.pending[r].Swap(0)
		total += counts[r]
		if counts[r] > 0 {
			args = append(args, Refusal(r).String(), counts[r])
		}
	}
	removed, undated := s.pendingRemoved.Swap(0), s.pendingUndated.Swap(0)
	if total == 0 {
		return // summed up already, by the summary a racing refusal armed
	}
	ok := s.pendingOK.Load()
	args = append(args, "accepted", ok)
	if hint := refusalHint(counts, removed, undated); hint != "" {
		args = append(args, "hint", hint)
	}
	msg := fmt.Sprintf("cookiesession: %d session cookies refused; each was a new session", total)
	if total == 1 {
		msg = "cookiesession: 1 session cookie refused; it was a new session"
	}
	m.log().Warn(msg, args...)
}

// refusalHint suggests a cause for refusals, or returns "". removed is
// how many were sealed with a secret removed at the last change: only a
// cookie that secret sealed verifies under it, so junk cannot make an
// operator put a retired secret back. undated is how many were refused,
// as revoked, because revocation could not date them.
func refusalHint(counts [numRefusals]uint64, removed, undated uint64) string {
	var hints []string
	if removed > 0 {
		hints = append(hints, fmt.Sprintf("%d were sealed with a secret removed at the last change of secrets while its cookies were still live: unless it leaked, put it back second until Manager.SafeToRemove says it can go", removed))
	}
	if undated > 0 {
		hints = append(hints, fmt.Sprintf("%d of the revoked carry no creation time, and no expiry or one more than MaxAge ahead, so revocation could not date them: the other application must seal every session with an expiry, MaxAge ahead", undated))
	}
	if counts[RefusedChunkMissing] > 0 {
		hints = append(hints, "chunks go missing: a proxy or client drops cookies past its Cookie header limit (8 KB for nginx); store less or lower MaxChunks")
	}
	if counts[RefusedTooManyCandidates] > 0 {
		hints = append(hints, "several cookies of the session's name arrive: tossed from a sibling subdomain? a __Host- name prevents it")
	}
	return strings.Join(hints, "; ")
}
