package redisrevocation

// Loading: following the channel, and reading every live entry from
// Redis when a replica starts and after each reconnect.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
)

// apply takes records, as appended to a bucket or published, into the
// local copy, and returns how many bytes of s it used: a record cut at
// the end of s is left for the caller to complete. A record that cannot
// be read ends it with an error: what follows is not this package's. A
// record that reads but is out of bounds (see record.Check) is refused
// alone: it returns how many, and the first one's error.
//
// It puts records in force a few hundred at a time, so that what it
// allocates stays below twice s's size whatever s holds, and the local
// table grows by what decoded, never by the size of what arrived.
func (l *List) apply(s string) (used, refused int, why, err error) {
	const chunk = 256
	now := time.Now()
	rs := make([]cookiesession.Revocation, 0, min(chunk, len(s)/record.MinSize+1))
	flush := func() error {
		// The IDs are substrings of s; the local list does not keep them.
		err := l.local.RevokeMany(context.Background(), rs)
		rs = rs[:0]
		return err
	}
	for used < len(s) {
		r, n, err := record.Next(s[used:])
		if err == nil && n > 0 && (r.Until.IsZero() || r.SessionID == "" && r.Before.IsZero()) {
			err = errors.New("a time out of range") // the zero time.Time, which the local list refuses
		}
		if err != nil {
			return used, refused, why, cmp.Or(flush(), fmt.Errorf("%w (at byte %d)", record.Corrupt(err), used))
		}
		if n == 0 {
			break
		}
		used += n
		if !r.Until.After(now) {
			continue // it revokes nothing any more: not worth a slot
		}
		if err := record.Check(r, now, true); err != nil {
			refused++
			why = cmp.Or(why, err)
			continue
		}
		if l.seen != nil {
			l.seen(r)
		}
		if rs = append(rs, r); len(rs) == cap(rs) {
			if err := flush(); err != nil {
				return used, refused, why, record.Corrupt(err)
			}
		}
	}
	if err := flush(); err != nil {
		return used, refused, why, record.Corrupt(err)
	}
	return used, refused, why, nil
}

// refusals is what one source of records (the channel) sent that was
// refused: the first is logged at ERROR at once, those in the minute
// after it are counted and logged together when that minute is over, so
// that a flood costs one line a minute and a burst that stops is still
// reported.
type refusals struct {
	every   time.Duration // a minute when zero
	mu      sync.Mutex
	logged  time.Time
	count   int         // refused since logged
	pending *time.Timer // logs count when the minute is over
	last    []any       // the latest refusal's message and attributes
}

// note logs a refusal, or counts it when one was logged less than a
// minute ago.
func (f *refusals) note(logger *slog.Logger, msg string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if wait := cmp.Or(f.every, time.Minute) - time.Since(f.logged); wait > 0 {
		f.count++
		f.last = append([]any{msg}, args...)
		if f.pending == nil {
			f.pending = time.AfterFunc(wait, func() { f.flush(logger) })
		}
		return
	}
	logger.Error(msg, args...)
	f.logged = time.Now()
}

// flush logs what was counted since the last line.
func (f *refusals) flush(logger *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = nil
	if f.count == 0 {
		return
	}
	logger.Error(f.last[0].(string), append(f.last[1:], "more_refused", f.count)...)
	f.logged, f.count = time.Now(), 0
}

// run keeps the list current until ctx ends: subscribe, share what waited,
// load everything, then wait for the connection to drop, and again.
func (l *List) run(ctx context.Context, ready chan<- struct{}) {
	defer l.done.Done()
	first := true
	for backoff := 50 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 2*time.Second) {
		err := l.follow(ctx, func() {
			backoff = 50 * time.Millisecond
			if lost := l.lostAt.Swap(0); lost != 0 {
				l.opts.Logger.Info("redisrevocation: reconnected and reloaded", "after", time.Since(time.Unix(0, lost)))
			}
			if first {
				first = false
				close(ready)
			}
		})
		if ctx.Err() != nil {
			return
		}
		if l.lostAt.CompareAndSwap(0, time.Now().UnixNano()) {
			l.opts.Logger.Warn("redisrevocation: lost Redis; serving the last known list", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

var errLost = errors.New("subscription ended")

// follow runs one connection's life: it returns when the connection is
// lost. synced is called once the list is current.
func (l *List) follow(ctx context.Context, synced func()) error {
	lost, unsubscribe, err := l.client.Subscribe(ctx, l.keys.Channel, func(m string) {
		if len(m) > record.MaxMessage {
			l.ignored.note(l.opts.Logger, "redisrevocation: ignored a message on the list's channel longer than the list ever publishes; something else publishes there",
				"channel", l.keys.Channel, "bytes", len(m), "max", record.MaxMessage)
			return
		}
		records, ours := strings.CutPrefix(m, record.Magic)
		used, refused, why, err := 0, 0, error(nil), error(nil)
		if ours {
			used, refused, why, err = l.apply(records)
		}
		switch {
		case !ours || err != nil || used < len(records):
			l.ignored.note(l.opts.Logger, "redisrevocation: ignored a message on the list's channel that is not a whole set of records, from the first it cannot read; a replica of another version, or something else, publishes there",
				"channel", l.keys.Channel, "err", err)
		case refused > 0:
			l.ignored.note(l.opts.Logger, "redisrevocation: refused revocations out of bounds on the list's channel; a replica whose clock is wrong, or something else, publishes there",
				"channel", l.keys.Channel, "count", refused, "err", why)
		}
	})
	if err != nil {
		return err
	}
	defer unsubscribe()
	// Subscribed first, loaded second: an entry written in between arrives
	// both ways, which is harmless, rather than neither.
	l.poke() // Redis is back: what waited for it need not wait longer
	if err := l.load(ctx); err != nil {
		return err
	}
	synced()
	select {
	case err := <-lost:
		return cmp.Or(err, errLost)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// How the load reads the buckets: in pages of record.PageSize, so that a
// day holding a million entries costs a few pages of memory at a time, not
// 32 MB, and several pages per round trip.
const pagesPerTrip = 16

// load reads every live entry into the local copy: the index, the size
// of each string of a day it lists, then every string, page by page, one
// round trip ahead of the pages being applied. The local table grows by
// what the pages decode to, never by the sizes Redis reports, so that
// junk in a day costs a replica nothing it keeps.
// Records appended after the sizes were read need not be read: the list
// was subscribed first, so they arrive as messages.
func (l *List) load(ctx context.Context) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	keys, err := strs(l.client.Do(ctx, keyed("ZRANGE", l.keys.Index, now, "+inf", "BYSCORE"))[0])
	if err != nil {
		return fmt.Errorf("the list's index %s: %w", l.keys.Index, err)
	}
	if len(keys) == 0 {
		return nil
	}
	keys = slices.DeleteFunc(keys, func(k string) bool {
		if strings.HasPrefix(k, l.keys.Tag+"day:") {
			return false
		}
		l.opts.Logger.Error("redisrevocation: skipped a key in the list's index that is not one of its days", "index", l.keys.Index, "key", k)
		return true
	})
	if len(keys) == 0 {
		return nil
	}
	sizes := make([]driver.Command, len(keys))
	for i, k := range keys {
		sizes[i] = keyed("STRLEN", k)
	}
	type page struct {
		key       string
		off, size int64 // its offset, and the bucket's size
	}
	var pages []page
	for i, res := range l.client.Do(ctx, sizes...) {
		size, err := integer(res)
		if _, fromRedis := redisError(err); err != nil && !fromRedis {
			return err
		} else if err != nil {
			l.opts.Logger.Error("redisrevocation: skipped a day of the list that is not a string", "key", keys[i], "err", err)
			continue
		}
		if l.sized != nil {
			l.sized(keys[i], size)
		}
		for off := int64(0); off < size; off += record.PageSize {
			pages = append(pages, page{keys[i], off, size})
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetched := make(chan []string, 1)
	var fetchErr error
	go func() {
		defer close(fetched)
		for start := 0; start < len(pages); start += pagesPerTrip {
			trip := pages[start:min(start+pagesPerTrip, len(pages))]
			cmds := make([]driver.Command, len(trip))
			for i, p := range trip {
				cmds[i] = keyed("GETRANGE", p.key, strconv.FormatInt(p.off, 10), strconv.FormatInt(min(p.off+record.PageSize, p.size)-1, 10))
			}
			data := make([]string, len(trip))
			for i, res := range l.client.Do(ctx, cmds...) {
				if data[i], fetchErr = str(res); fetchErr != nil {
					return
				}
			}
			select {
			case fetched <- data:
			case <-ctx.Done():
				fetchErr = ctx.Err()
				return
			}
		}
	}()
	next, carry, skip, refusedIn := 0, "", "", ""
	for data := range fetched {
		for _, d := range data {
			p := pages[next]
			next++
			if p.key == skip {
				continue
			}
			rest, refused, why, err := l.applyPage(carry, d)
			carry = ""
			if refused > 0 && refusedIn != p.key {
				refusedIn = p.key // logged once per string and load
				l.opts.Logger.Error("redisrevocation: refused revocations out of bounds in the list; a replica whose clock is wrong, or something else, wrote them",
					"key", p.key, "err", why)
			}
			switch {
			case err != nil:
				l.opts.Logger.Error("redisrevocation: skipped the rest of a bucket it cannot read", "key", p.key, "err", err)
				skip = p.key
			case p.off+record.PageSize < p.size:
				carry = strings.Clone(rest) // the next page is the same bucket's
			case rest != "" && int64(len(d)) == p.size-p.off:
				// (A shorter page: the day expired since its size was read.)
				l.opts.Logger.Error("redisrevocation: a bucket ends inside a record", "key", p.key)
			}
		}
	}
	return fetchErr // read after fetched was closed
}

// applyPage applies the records of a page of a bucket, the first of them
// begun by carry, the end of the page before. It returns the start of a
// record that this page cuts in turn.
func (l *List) applyPage(carry, page string) (rest string, refused int, why, err error) {
	if carry != "" {
		// Join only what completes the cut record, not the whole page.
		head := carry + page[:min(len(page), record.MaxSize)]
		_, n, err := record.Next(head)
		switch {
		case err != nil:
			return "", 0, nil, record.Corrupt(err)
		case n == 0:
			return head, 0, nil, nil // the bucket ended first
		}
		used, r, w, err := l.apply(head[:n])
		if err != nil || used < n {
			return "", 0, nil, cmp.Or(err, record.ErrCorrupt)
		}
		refused, why = r, w
		page = page[n-len(carry):]
	}
	used, r, w, err := l.apply(page)
	return page[used:], refused + r, cmp.Or(why, w), err
}
