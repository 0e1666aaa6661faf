package redisrevocation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
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
//	{prefix}records    the pub/sub channel: messageMagic, then records
//
// A record is binary rather than text, to be small and to carry any
// subject or ID without escaping:
//
//	kind    1 byte: kindSession, kindSubject or kindAll
//	until   8 bytes, Unix ms, big-endian
//	before  8 bytes likewise, for a subject or all
//	name    for a session or subject: its length (uvarint), then its bytes
//
// A session ID of 22 characters makes a record of 32 bytes. The same
// entry may be appended more than once (a retry, a later Until); the
// copies widen each other when loaded, as entries do in
// MemoryRevocations. The kinds are control characters, and a message
// starts with messageMagic, so that text someone else publishes on the
// channel is not read as records.
const (
	kindSession = 1
	kindSubject = 2
	kindAll     = 3

	messageMagic = "\x00csr1"

	// maxMessageRecords bounds the records of one script call, and so of
	// one message: a replica refuses a longer message unread.
	maxMessageRecords = 64 << 10
	maxMessage        = len(messageMagic) + maxMessageRecords

	day     = 24 * time.Hour
	maxName = 4096 // longer IDs and subjects are refused, not truncated

	sessionRecord = 32                      // bytes, for an ID of 22 characters
	minRecord     = 1 + 8 + 1 + 1           // a session ID of one byte
	maxRecord     = 1 + 8 + 8 + 2 + maxName // a subject of maxName bytes, whose length takes 2
	expiryMargin  = time.Hour               // kept past its day, for clocks that disagree
	maxUntil      = 400*day + day           // the longest cookie lifetime, and a margin
	maxSkew       = time.Hour               // how far ahead of ours another replica's clock may be, for Until
	maxAhead      = 5 * time.Minute         // how far ahead of now a Before may be
)

// errCorrupt: a record that cannot be read, which nothing this package
// writes can produce.
var errCorrupt = errors.New("redisrevocation: unreadable record")

// corrupt marks err as errCorrupt, once.
func corrupt(err error) error {
	if errors.Is(err, errCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", errCorrupt, err)
}

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

// errOutOfBounds: a revocation no session needs, or one that would refuse
// sessions not made yet.
var errOutOfBounds = errors.New("redisrevocation: revocation out of bounds")

// checkShareable refuses what a record cannot carry, or what no session
// needs: a name longer than maxName, an Until more than 400 days (and a
// margin) ahead, since no cookie lives longer, a Before after Until, or a
// Before more than maxAhead after now, which would refuse sessions not
// created yet (every new login of a subject, or everyone's) until then.
// Records read back, from Redis or the channel, are held to the same
// rule, with room for clocks that disagree on Until (read).
func checkShareable(r cookiesession.Revocation, now time.Time, read bool) error {
	untilAhead := maxUntil
	if read {
		untilAhead += maxSkew
	}
	switch {
	case len(r.SessionID) > maxName || len(r.Subject) > maxName:
		return fmt.Errorf("redisrevocation: a session ID or subject longer than %d bytes cannot be shared", maxName)
	case r.Until.After(now.Add(untilAhead)):
		return fmt.Errorf("%w: its Until is more than 400 days ahead, longer than any session lives", errOutOfBounds)
	case r.SessionID == "" && r.Before.After(r.Until):
		return fmt.Errorf("%w: its Before is after its Until", errOutOfBounds)
	case r.SessionID == "" && r.Before.After(now.Add(maxAhead)):
		return fmt.Errorf("%w: its Before, %v, is more than %v ahead of now; it would refuse sessions not created yet",
			errOutOfBounds, r.Before.UTC().Format(time.RFC3339), maxAhead)
	}
	return nil
}

// appendRecord appends r's record to b.
func appendRecord(b []byte, r cookiesession.Revocation) []byte {
	kind, name, before := byte(kindAll), "", max(r.Before.UnixMilli(), 0)
	switch {
	case r.SessionID != "":
		kind, name = kindSession, r.SessionID
	case r.Subject != "":
		kind, name = kindSubject, r.Subject
	}
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Until.UnixMilli()))
	if kind != kindSession {
		b = binary.BigEndian.AppendUint64(b, uint64(before))
	}
	if kind != kindAll {
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
	if kind == kindSession {
		fixed = 1 + 8
	} else if kind != kindSubject && kind != kindAll {
		return r, 0, errCorrupt
	}
	if len(s) < fixed {
		return r, 0, nil
	}
	until := time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[1:9]))))
	var before time.Time
	if kind != kindSession {
		before = time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(s[9:17]))))
	}
	if kind == kindAll {
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
	if kind == kindSession {
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

// command is a Redis command without keys.
func command(name ...string) driver.Command { return driver.Command{Name: name} }

// keyed is a Redis command on key, with args after it.
func keyed(name, key string, args ...string) driver.Command {
	return driver.Command{Name: []string{name}, Keys: []string{key}, Args: args}
}

// str is r's string, or why it is none.
func str(r driver.Reply) (string, error) {
	if r.Err != nil {
		return "", r.Err
	}
	if s, ok := r.Value.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("redisrevocation: Redis answered %T, not a string", r.Value)
}

// integer is r's integer, or why it is none.
func integer(r driver.Reply) (int64, error) {
	if r.Err != nil {
		return 0, r.Err
	}
	if n, ok := r.Value.(int64); ok {
		return n, nil
	}
	return 0, fmt.Errorf("redisrevocation: Redis answered %T, not an integer", r.Value)
}

// strs is r's array of strings, or why it is none.
func strs(r driver.Reply) ([]string, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	switch v := r.Value.(type) {
	case []string:
		return v, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("redisrevocation: Redis answered %T, not an array", r.Value)
}

// redisError is err's error reply from Redis, if it is one.
func redisError(err error) (driver.ErrorReply, bool) {
	var re driver.ErrorReply
	return re, errors.As(err, &re)
}
