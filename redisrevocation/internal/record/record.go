// Package record is the layout of a shared revocation list in Redis: its
// keys, and the records its days and messages hold. It is the list's
// package's and its tests', which write what the list must refuse.
package record

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// The layout in Redis. A busy service keeps a million entries or more, and
// every replica reads them all when it starts, so they are packed: records
// of about 32 bytes appended to a string per UTC day, rather than a key
// per entry (about 190 bytes each in Redis, and a keyspace SCAN to find
// them). Under the hash tag "{" + Prefix + "}", every key falls in one
// Redis Cluster slot, so the script and the load reach them together:
//
//	{prefix}day:<end>  the records whose Until falls in the UTC day that
//	                   ends at <end> (Unix ms, exclusive); the key expires
//	                   an hour after <end>, so Redis drops entries by
//	                   itself, a day and an hour at most after their
//	                   sessions expired
//	{prefix}day:<end>:<n>  the same day's records past what one string
//	                   holds (proto-max-bulk-len, 512 MB by default and
//	                   1 MB at least): its n-th string, n from 2, with
//	                   the same expiry, in the index beside the first
//	{prefix}days       a sorted set of those keys scored by their expiry:
//	                   the load reads it, pruned by score, instead of the
//	                   keyspace
//	{prefix}records    the pub/sub channel: Magic, then records
//	{prefix}confirmed  a write of the list's own, kept a day: with
//	                   WaitReplicas, its reaching the replicas confirms
//	                   every write before it
//
// A record is binary rather than text, to be small and to carry any
// subject or ID without escaping:
//
//	kind    1 byte: KindSession, KindSubject or KindAll
//	until   8 bytes, Unix ms, big-endian
//	before  8 bytes likewise, for a subject or all
//	name    for a session or subject: its length (uvarint), then its bytes
//
// A session ID of 22 characters makes a record of 32 bytes. The same
// entry may be appended more than once (a retry, a later Until); the
// copies widen each other when loaded, as entries do in
// MemoryRevocations. The kinds are control characters, and a message
// starts with Magic, so that text someone else publishes on the
// channel is not read as records.
const (
	KindSession = 1
	KindSubject = 2
	KindAll     = 3

	Magic = "\x00csr1"

	// MaxMessageRecords bounds the records of one script call, and so of
	// one message: a replica refuses a longer message unread.
	MaxMessageRecords = 64 << 10
	MaxMessage        = len(Magic) + MaxMessageRecords

	Day     = 24 * time.Hour
	MaxName = 4096 // longer IDs and subjects are refused, not truncated

	SessionSize  = 32                      // bytes, for an ID of 22 characters
	MinSize      = 1 + 8 + 1 + 1           // a session ID of one byte
	MaxSize      = 1 + 8 + 8 + 2 + MaxName // a subject of MaxName bytes, whose length takes 2
	ExpiryMargin = time.Hour               // kept past its day, for clocks that disagree
	MaxUntil     = 400*Day + Day           // the longest cookie lifetime, and a margin
	MaxSkew      = time.Hour               // how far ahead of ours another replica's clock may be, for Until
	MaxAhead     = 5 * time.Minute         // how far ahead of now a Before may be

	// PageSize is how much of a day's string a load reads at once.
	PageSize = 256 << 10
)

// ErrCorrupt: a record that cannot be read, which nothing this package
// writes can produce.
var ErrCorrupt = errors.New("redisrevocation: unreadable record")

// Corrupt marks err as ErrCorrupt, once.
func Corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// DayEnd is the end of the UTC day holding until, in Unix milliseconds:
// the record's bucket.
func DayEnd(until time.Time) int64 {
	ms := until.UnixMilli()
	return (ms/Day.Milliseconds() + 1) * Day.Milliseconds()
}

// DefaultPrefix names a list whose Options.Prefix is empty.
const DefaultPrefix = "cookiesession:revocations:"

// Keys are the names of a list's keys and channel in Redis.
type Keys struct {
	Tag       string // "{" + prefix + "}", which starts every key
	Index     string // the sorted set of day keys
	Channel   string
	Confirmed string // the mark a write that must not be repeated sets
}

// KeysOf returns the names of the keys of the list with prefix, or with
// DefaultPrefix when it is empty.
func KeysOf(prefix string) Keys {
	tag := "{" + cmp.Or(prefix, DefaultPrefix) + "}"
	return Keys{Tag: tag, Index: tag + "days", Channel: tag + "records", Confirmed: tag + "confirmed"}
}

// Day is the key of the bucket that ends at end.
func (k Keys) Day(end int64) string {
	return k.Tag + "day:" + strconv.FormatInt(end, 10)
}

// ErrOutOfBounds: a revocation no session needs, or one that would refuse
// sessions not made yet.
var ErrOutOfBounds = errors.New("redisrevocation: revocation out of bounds")

// Check refuses what a record cannot carry, or what no session
// needs: a name longer than MaxName, an Until more than 400 days (and a
// margin) ahead, since no cookie lives longer, a Before after Until, or a
// Before more than MaxAhead after now, which would refuse sessions not
// created yet (every new login of a subject, or everyone's) until then.
// Records read back, from Redis or the channel, are held to the same
// rule, with room for clocks that disagree on Until (read).
func Check(r cookiesession.Revocation, now time.Time, read bool) error {
	untilAhead := MaxUntil
	if read {
		untilAhead += MaxSkew
	}
	switch {
	case len(r.SessionID) > MaxName || len(r.Subject) > MaxName:
		return fmt.Errorf("redisrevocation: a session ID or subject longer than %d bytes cannot be shared", MaxName)
	case r.Until.After(now.Add(untilAhead)):
		return fmt.Errorf("%w: its Until is more than 400 days ahead, longer than any session lives", ErrOutOfBounds)
	case r.SessionID == "" && r.Before.After(r.Until):
		return fmt.Errorf("%w: its Before is after its Until", ErrOutOfBounds)
	case r.SessionID == "" && r.Before.After(now.Add(MaxAhead)):
		return fmt.Errorf("%w: its Before, %v, is more than %v ahead of now; it would refuse sessions not created yet",
			ErrOutOfBounds, r.Before.UTC().Format(time.RFC3339), MaxAhead)
	}
	return nil
}

// Append appends r's record to b.
func Append(b []byte, r cookiesession.Revocation) []byte {
	kind, name, before := byte(KindAll), "", max(r.Before.UnixMilli(), 0)
	switch {
	case r.SessionID != "":
		kind, name = KindSession, r.SessionID
	case r.Subject != "":
		kind, name = KindSubject, r.Subject
	}
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Until.UnixMilli()))
	if kind != KindSession {
		b = binary.BigEndian.AppendUint64(b, uint64(before))
	}
	if kind != KindAll {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
	}
	return b
}

// Next decodes the record at the start of s and returns its length;
// 0 when s holds only the start of one, and an error when s does not
// start with a record. An ID in r is a substring of s; a subject is a
// copy, since the list keeps it.
func Next(s string) (r cookiesession.Revocation, n int, err error) {
	if len(s) == 0 {
		return r, 0, nil
	}
	kind := s[0]
	fixed := 1 + 8 + 8
	if kind == KindSession {
		fixed = 1 + 8
	} else if kind != KindSubject && kind != KindAll {
		return r, 0, ErrCorrupt
	}
	if len(s) < fixed {
		return r, 0, nil
	}
	until := time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[1:9]))))
	var before time.Time
	if kind != KindSession {
		before = time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[9:17]))))
	}
	if kind == KindAll {
		return cookiesession.AllRevocation(before, until), fixed, nil
	}
	size, w := uvarint(s[fixed:])
	switch {
	case w == 0:
		return r, 0, nil
	case w < 0 || size == 0 || size > MaxName:
		return r, 0, ErrCorrupt
	case uint64(len(s)-fixed-w) < size:
		return r, 0, nil
	}
	n = fixed + w + int(size)
	name := s[fixed+w : n]
	if kind == KindSession {
		return cookiesession.SessionRevocation(name, until), n, nil
	}
	return cookiesession.SubjectRevocation(strings.Clone(name), before, until), n, nil
}

// uvarint is binary.Uvarint for a string of at most three bytes' worth,
// the most a name's length takes: w is 0 when s ends inside the number
// and negative when the number is longer or not in its shortest form.
func uvarint(s string) (v uint64, w int) {
	for i := 0; i < len(s) && i < 3; i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i > 0 && c == 0 {
				return 0, -1 // a longer form than needed
			}
			return v, i + 1
		}
	}
	if len(s) >= 3 {
		return 0, -1
	}
	return 0, 0
}
