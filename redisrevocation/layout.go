package redisrevocation

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// The layout in Redis. A busy service keeps a million entries or more, and
// every replica reads them all when it starts, so they are packed: records
// of about 32 bytes appended to one string per UTC day, rather than a key
// per entry (about 190 bytes each in Redis, and a keyspace SCAN to find
// them). Under the hash tag "{" + Prefix + "}", every key falls in one
// Redis Cluster slot, so the script and the load reach them together:
//
//	{prefix}day:<end>  the records whose Until falls in the UTC day that
//	                   ends at <end> (Unix ms, exclusive); the key expires
//	                   at <end>, so Redis drops entries by itself, at most
//	                   a day after their sessions have expired
//	{prefix}days       a sorted set of those keys scored by <end>: the load
//	                   reads it, pruned by score, instead of the keyspace
//	{prefix}records    the pub/sub channel: the same records, as appended
//
// A record is binary rather than text, to be small and to carry any
// subject or ID without escaping:
//
//	kind    1 byte: 's' a session, 'u' a subject, 'a' every session
//	until   8 bytes, Unix ms, big-endian
//	before  8 bytes likewise, for 'u' and 'a' only
//	name    for 's' and 'u': its length (uvarint), then its bytes
//
// A session ID of 22 characters makes a record of 32 bytes. The same
// entry may be appended more than once (a retry, a later Until); the
// copies widen each other when loaded, as entries do in
// MemoryRevocations.
const (
	day     = 24 * time.Hour
	maxName = 1 << 16 // longer IDs and subjects are refused, not truncated

	sessionRecord = 32                      // bytes, for an ID of 22 characters
	maxRecord     = 1 + 8 + 8 + 3 + maxName // a subject of maxName bytes, whose length takes 3
)

// errCorrupt: a record that cannot be read, which nothing this package
// writes can produce.
var errCorrupt = errors.New("redisrevocation: unreadable record in Redis")

// dayEnd is the end of the UTC day holding until, in Unix milliseconds:
// the record's bucket.
func dayEnd(until time.Time) int64 {
	ms := until.UnixMilli()
	return (ms/day.Milliseconds() + 1) * day.Milliseconds()
}

// dayKey is the key of the bucket that ends at end.
func (l *List) dayKey(end int64) string {
	return l.tag + "day:" + strconv.FormatInt(end, 10)
}

// checkName refuses an ID or subject too long for a record.
func checkName(r cookiesession.Revocation) error {
	if len(r.SessionID) > maxName || len(r.Subject) > maxName {
		return errors.New("redisrevocation: a session ID or subject longer than 64 KiB cannot be shared")
	}
	return nil
}

// appendRecord appends r's record to b.
func appendRecord(b []byte, r cookiesession.Revocation) []byte {
	kind, name, before := byte('a'), "", max(r.Before.UnixMilli(), 0)
	switch {
	case r.SessionID != "":
		kind, name = 's', r.SessionID
	case r.Subject != "":
		kind, name = 'u', r.Subject
	}
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Until.UnixMilli()))
	if kind != 's' {
		b = binary.BigEndian.AppendUint64(b, uint64(before))
	}
	if kind != 'a' {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
	}
	return b
}

// nextRecord decodes the record at the start of s and returns its length;
// 0 when s holds only the start of one, and an error when s does not
// start with a record. An ID in r is a substring of s; a subject is a
// copy, since the list keeps it.
func nextRecord(s string) (r cookiesession.Revocation, n int, err error) {
	if len(s) == 0 {
		return r, 0, nil
	}
	kind := s[0]
	fixed := 1 + 8 + 8
	if kind == 's' {
		fixed = 1 + 8
	} else if kind != 'u' && kind != 'a' {
		return r, 0, errCorrupt
	}
	if len(s) < fixed {
		return r, 0, nil
	}
	until := time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[1:9]))))
	var before time.Time
	if kind != 's' {
		before = time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[9:17]))))
	}
	if kind == 'a' {
		return cookiesession.AllRevocation(before, until), fixed, nil
	}
	size, w := uvarint(s[fixed:])
	switch {
	case w == 0:
		return r, 0, nil
	case w < 0 || size == 0 || size > maxName:
		return r, 0, errCorrupt
	case uint64(len(s)-fixed-w) < size:
		return r, 0, nil
	}
	n = fixed + w + int(size)
	name := s[fixed+w : n]
	if kind == 's' {
		return cookiesession.SessionRevocation(name, until), n, nil
	}
	return cookiesession.SubjectRevocation(strings.Clone(name), before, until), n, nil
}

// uvarint is binary.Uvarint for a string: w is 0 when s ends inside the
// number and negative when it is longer than 10 bytes.
func uvarint(s string) (v uint64, w int) {
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			return v | uint64(c)<<(7*i), i + 1
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	if len(s) >= binary.MaxVarintLen64 {
		return 0, -1
	}
	return 0, 0
}
