// Package redisrevocation shares a cookiesession revocation list between
// the replicas of a service through Redis or Valkey, without a network
// round trip on the request path.
//
// Each replica keeps every live revocation in its own memory (a
// [cookiesession.MemoryRevocations]) and answers from it. Redis holds each
// entry under a key that expires when the sessions it revokes would have,
// and pushes every new entry to all replicas over pub/sub, within
// milliseconds. A replica loads every entry when it starts and again after
// each reconnect, so it misses nothing that happened while it was away.
// A revocation that could not be written to Redis (Redis stalled, or the
// caller's context ended) is in force on its own replica at once and is
// written again, with backoff, until Redis has it.
//
// It uses github.com/redis/rueidis: a well-kept client whose dedicated
// connections report a lost subscription on a channel, which is what the
// reload after a reconnect hangs on. The commands used (SET with PXAT,
// GET, MGET, SCAN, EVAL, PUBLISH, SUBSCRIBE) are the same in Valkey.
package redisrevocation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/redis/rueidis"
)

// Options configures a [List]. Every zero value is a default.
type Options struct {
	// Prefix starts every key and the channel name,
	// "cookiesession:revocations:" by default. Replicas that share
	// sessions share a prefix.
	Prefix string

	// MaxStale is how long the local copy is trusted after the connection
	// to Redis is lost, one minute by default. Until then revocations made
	// elsewhere may be missed for that long at most.
	MaxStale time.Duration

	// RejectWhenStale decides what happens once the copy is older than
	// MaxStale. By default sessions are still accepted (those the copy
	// lists stay rejected), and a warning is logged once per MaxStale: a
	// Redis outage then costs revocations made during it, not every user's
	// session. Set it where a revoked session must never be honoured, at
	// the price of logging everyone out while Redis is away.
	RejectWhenStale bool

	// Timeout bounds each Redis call that shares a revocation, 2 seconds
	// by default. One that fails is retried until Redis has it.
	Timeout time.Duration

	// Logger receives connection changes and staleness warnings. It
	// defaults to slog.Default().
	Logger *slog.Logger
}

// maxPending bounds the revocations kept while Redis is unreachable.
const maxPending = 100_000

// How soon a revocation that did not reach Redis is written again: at
// once, then after a backoff that doubles up to maxRetry while Redis
// stays unreachable.
const (
	minRetry = 50 * time.Millisecond
	maxRetry = time.Second
)

// List is a [cookiesession.RevocationList] shared through Redis. Create it
// with [New]; it is safe for concurrent use.
type List struct {
	client  rueidis.Client
	local   *cookiesession.MemoryRevocations
	prefix  string
	channel string
	opts    Options

	lostAt   atomic.Int64 // UnixNano when the subscription was lost; 0 while current
	warnedAt atomic.Int64 // UnixNano of the last staleness warning
	closed   atomic.Bool  // Close was called: nothing is retried any more

	mu      sync.Mutex
	pending []cookiesession.Revocation // not yet written to Redis
	wake    chan struct{}              // tells retry that there is work, or Redis is back

	stop context.CancelFunc
	done sync.WaitGroup
}

// New subscribes to the list's channel, loads every live entry, and
// returns once the list is current, so a replica started after
// revocations were made rejects those sessions from its first request.
// It keeps the list current in the background until Close, reconnecting
// and reloading after any outage. ctx bounds only the first load; New
// fails if Redis cannot be reached before it ends. The client stays the
// caller's to close, after Close.
func New(ctx context.Context, client rueidis.Client, opts Options) (*List, error) {
	opts.Prefix = cmp.Or(opts.Prefix, "cookiesession:revocations:")
	opts.MaxStale = cmp.Or(opts.MaxStale, time.Minute)
	opts.Timeout = cmp.Or(opts.Timeout, 2*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &List{
		client:  client,
		local:   cookiesession.NewMemoryRevocations(),
		prefix:  opts.Prefix,
		channel: opts.Prefix + "channel",
		opts:    opts,
		wake:    make(chan struct{}, 1),
	}
	runCtx, stop := context.WithCancel(context.Background())
	l.stop = stop
	ready := make(chan struct{})
	l.done.Add(2)
	go l.run(runCtx, ready)
	go l.retry(runCtx)
	select {
	case <-ready:
		return l, nil
	case <-ctx.Done():
		l.Close()
		return nil, fmt.Errorf("redisrevocation: first load: %w", ctx.Err())
	}
}

// Close stops keeping the list current. Revoked then answers from the
// last copy. Revocations still waiting for Redis get one last try, of at
// most Options.Timeout each; those that fail it are logged as lost to the
// other replicas.
func (l *List) Close() {
	if l.closed.Swap(true) {
		return
	}
	l.stop()
	l.done.Wait()
	l.mu.Lock()
	waiting := len(l.pending)
	l.mu.Unlock()
	if waiting == 0 {
		return
	}
	if shared, err := l.flush(context.Background()); err != nil {
		l.opts.Logger.Error("redisrevocation: closed with revocations Redis never got; other replicas will not enforce them",
			"count", waiting-shared, "err", err)
	}
}

// Revoked reports whether s is revoked, from this replica's memory: no
// network round trip and no allocation.
func (l *List) Revoked(ctx context.Context, s cookiesession.SessionInfo) bool {
	if l.local.Revoked(ctx, s) {
		return true
	}
	lost := l.lostAt.Load()
	if lost == 0 {
		return false
	}
	now := time.Now().UnixNano()
	if now-lost <= int64(l.opts.MaxStale) {
		return false
	}
	if last := l.warnedAt.Load(); now-last > int64(l.opts.MaxStale) && l.warnedAt.CompareAndSwap(last, now) {
		l.opts.Logger.WarnContext(ctx, "redisrevocation: revocation list is stale; Redis unreachable",
			"since", time.Unix(0, lost), "reject_sessions", l.opts.RejectWhenStale)
	}
	return l.opts.RejectWhenStale
}

// Stale returns how long the list has been out of touch with Redis, or 0
// while it is current. Health checks can report it.
func (l *List) Stale() time.Duration {
	if lost := l.lostAt.Load(); lost != 0 {
		return time.Since(time.Unix(0, lost))
	}
	return 0
}

// Revoke puts r in force on this replica at once, and shares it through
// Redis with every other. When that fails (Redis unreachable or slower
// than Options.Timeout, or ctx ended, as when the client left during a
// logout) it returns an error: r is then in force here only, and written
// again in the background, on a schedule of its own, until Redis has it.
func (l *List) Revoke(ctx context.Context, r cookiesession.Revocation) error {
	if err := l.local.Revoke(ctx, r); err != nil {
		return err
	}
	if err := l.share(ctx, r); err != nil {
		if l.closed.Load() {
			return fmt.Errorf("redisrevocation: revocation in force on this replica only, and the list is closed: %w", err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.pending) >= maxPending {
			return fmt.Errorf("redisrevocation: revocation in force on this replica only; %d others wait for Redis already: %w", maxPending, err)
		}
		l.pending = append(l.pending, r)
		l.poke()
		return fmt.Errorf("redisrevocation: revocation in force on this replica only until Redis has it; retrying: %w", err)
	}
	return nil
}

// RevokeMany is Revoke for many revocations at once, as after an incident:
// every one is in force on this replica at once, and they are shared
// through Redis in pipelined batches rather than one round trip each.
// Nothing is applied when one of them is invalid. When Redis cannot take
// them all, it returns an error, and those it did not take are written
// again in the background, as Revoke's are.
func (l *List) RevokeMany(ctx context.Context, rs []cookiesession.Revocation) error {
	check := cookiesession.NewMemoryRevocations() // validates as the local copy will
	for i, r := range rs {
		if err := check.Revoke(ctx, r); err != nil {
			return fmt.Errorf("redisrevocation: revocation %d: %w", i, err)
		}
	}
	for _, r := range rs {
		_ = l.local.Revoke(ctx, r)
	}
	const batch = 1000 // commands a pipeline carries at once
	var failed []cookiesession.Revocation
	var firstErr error
	for start := 0; start < len(rs); start += batch {
		part := rs[start:min(start+batch, len(rs))]
		if err := l.shareMany(ctx, part); err != nil {
			failed = append(failed, part...)
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)+len(failed) > maxPending {
		return fmt.Errorf("redisrevocation: %d revocations in force on this replica only; too many wait for Redis already: %w", len(failed), firstErr)
	}
	l.pending = append(l.pending, failed...)
	l.poke()
	return fmt.Errorf("redisrevocation: %d revocations in force on this replica only until Redis has them; retrying: %w", len(failed), firstErr)
}

// shareMany writes rs to Redis in one pipeline, and reports the first
// failure. Each entry is merged and published as share does.
func (l *List) shareMany(ctx context.Context, rs []cookiesession.Revocation) error {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	now := time.Now()
	execs := make([]rueidis.LuaExec, 0, len(rs))
	for _, r := range rs {
		if r.Until.After(now) { // else every session it names has expired
			execs = append(execs, l.exec(r))
		}
	}
	if len(execs) == 0 {
		return nil
	}
	for _, res := range revokeScript.ExecMulti(ctx, l.client, execs...) {
		if err := res.Error(); err != nil {
			return err
		}
	}
	return nil
}

// poke wakes retry, unless it is awake already.
func (l *List) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// retry writes the pending revocations to Redis until it has them all,
// backing off while it fails, until ctx ends. It does not wait for the
// subscription: a write can fail while the connection stays up.
func (l *List) retry(ctx context.Context) {
	defer l.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for backoff, failed := minRetry, 0; ; backoff = min(2*backoff, maxRetry) {
			shared, err := l.flush(ctx)
			if err == nil {
				if failed > 0 {
					l.opts.Logger.Info("redisrevocation: revocations that waited for Redis are shared", "count", shared)
				}
				break
			}
			if failed++; failed == 1 {
				l.opts.Logger.Warn("redisrevocation: revocations wait for Redis; retrying", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			case <-l.wake: // Redis is back, or another revocation failed
			}
		}
	}
}

// flush writes the pending revocations to Redis, outside the lock, and
// keeps those it could not write. It returns how many it wrote.
func (l *List) flush(ctx context.Context) (int, error) {
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	l.mu.Unlock()
	for i, r := range batch {
		if err := l.share(ctx, r); err != nil {
			l.mu.Lock()
			l.pending = append(batch[i:], l.pending...)
			l.mu.Unlock()
			return i, err
		}
	}
	return len(batch), nil
}

// revokeScript merges an entry with what Redis holds (entries only widen,
// as in MemoryRevocations), stores it until its sessions have expired, and
// publishes the result, in one atomic step.
var revokeScript = rueidis.NewLuaScript(`
local before, untl = tonumber(ARGV[1]), tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if cur then
  local b, u = string.match(cur, '^(%d+),(%d+)$')
  if b then
    before = math.max(before, tonumber(b))
    untl = math.max(untl, tonumber(u))
  end
end
local v = string.format('%d,%d', before, untl)
redis.call('SET', KEYS[1], v, 'PXAT', untl)
redis.call('PUBLISH', ARGV[3], KEYS[1] .. '\n' .. v)
return v
`)

func (l *List) share(ctx context.Context, r cookiesession.Revocation) error {
	if !r.Until.After(time.Now()) {
		return nil // every session it names has expired: nothing to share
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	e := l.exec(r)
	return revokeScript.Exec(ctx, l.client, e.Keys, e.Args).Error()
}

// exec is the script's call for r: its key, and before, until and the
// channel as arguments.
func (l *List) exec(r cookiesession.Revocation) rueidis.LuaExec {
	before := max(r.Before.UnixMilli(), 0)
	return rueidis.LuaExec{Keys: []string{l.key(r)},
		Args: []string{strconv.FormatInt(before, 10), strconv.FormatInt(r.Until.UnixMilli(), 10), l.channel}}
}

// Key layout under the prefix: "s:<session ID>", "u:<subject>" and "all".
// The value is "<before>,<until>" in Unix milliseconds.
func (l *List) key(r cookiesession.Revocation) string {
	switch {
	case r.SessionID != "":
		return l.prefix + "s:" + r.SessionID
	case r.Subject != "":
		return l.prefix + "u:" + r.Subject
	}
	return l.prefix + "all"
}

// parse turns a key and its value back into a Revocation.
func (l *List) parse(key, value string) (cookiesession.Revocation, bool) {
	before, until, ok := strings.Cut(value, ",")
	b, err1 := strconv.ParseInt(before, 10, 64)
	u, err2 := strconv.ParseInt(until, 10, 64)
	name, ours := strings.CutPrefix(key, l.prefix)
	if !ok || err1 != nil || err2 != nil || !ours {
		return cookiesession.Revocation{}, false
	}
	switch {
	case strings.HasPrefix(name, "s:"):
		return cookiesession.SessionRevocation(name[2:], time.UnixMilli(u)), true
	case strings.HasPrefix(name, "u:"):
		return cookiesession.SubjectRevocation(name[2:], time.UnixMilli(b), time.UnixMilli(u)), true
	case name == "all":
		return cookiesession.AllRevocation(time.UnixMilli(b), time.UnixMilli(u)), true
	}
	return cookiesession.Revocation{}, false
}

// apply takes one entry from Redis into the local copy.
func (l *List) apply(key, value string) {
	if r, ok := l.parse(key, value); ok {
		_ = l.local.Revoke(context.Background(), r)
	}
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
	c, release := l.client.Dedicate()
	defer release()
	subscribed := make(chan struct{}, 1)
	lost := c.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			// The message is "<key>\n<value>"; a subject may hold "\n".
			if i := strings.LastIndexByte(m.Message, '\n'); i >= 0 {
				l.apply(m.Message[:i], m.Message[i+1:])
			}
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
		},
	})
	if err := c.Do(ctx, c.B().Subscribe().Channel(l.channel).Build()).Error(); err != nil {
		return err
	}
	// Subscribed first, loaded second: an entry written in between arrives
	// both ways, which is harmless, rather than neither.
	select {
	case <-subscribed:
	case err := <-lost:
		return cmp.Or(err, errLost)
	case <-ctx.Done():
		return ctx.Err()
	}
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

// load reads every live entry into the local copy.
func (l *List) load(ctx context.Context) error {
	var cursor uint64
	for {
		entry, err := l.client.Do(ctx, l.client.B().Scan().Cursor(cursor).Match(escapeGlob(l.prefix)+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(entry.Elements) > 0 {
			values, err := l.client.Do(ctx, l.client.B().Mget().Key(entry.Elements...).Build()).ToArray()
			if err != nil {
				return err
			}
			for i, v := range values {
				if s, err := v.ToString(); err == nil { // nil: expired since the SCAN
					l.apply(entry.Elements[i], s)
				}
			}
		}
		if cursor = entry.Cursor; cursor == 0 {
			return nil
		}
	}
}

// escapeGlob makes s match only itself in a Redis MATCH pattern, where
// *, ?, [ and ] are special and a backslash escapes the next character.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
