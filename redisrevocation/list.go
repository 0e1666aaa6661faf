// Package redisrevocation shares a cookiesession revocation list between
// the replicas of a service through Redis or Valkey, without a network
// round trip on the request path.
//
// Each replica keeps every live revocation in its own memory (a
// [cookiesession.MemoryRevocations]) and answers from it. Redis holds the
// entries packed in one string per day of expiry, each dropped by Redis
// once the sessions it revokes would have expired, and pushes every new
// entry to all replicas over pub/sub, within milliseconds. A replica
// loads every entry when it starts and again after each reconnect, so it
// misses nothing that happened while it was away; it reads the list's own
// keys, never the keyspace, so what else the Redis holds costs it
// nothing. A revocation that could not be written to Redis (Redis
// stalled, or the caller's context ended) is in force on its own replica
// at once and is written again, with backoff, until Redis has it.
//
// It works on a single Redis, with Sentinel, and on Redis Cluster, where
// every key of a list shares one slot; see Options.WaitReplicas for
// failovers.
//
// It uses github.com/redis/rueidis: a well-kept client whose dedicated
// connections report a lost subscription on a channel, which is what the
// reload after a reconnect hangs on, and which follows a Cluster's slots
// and a Sentinel's failovers by itself. It needs Redis 7 or Valkey: the
// commands used are EVAL (with APPEND, PEXPIREAT, PEXPIRETIME, ZADD,
// ZREMRANGEBYSCORE, TIME and PUBLISH), ZRANGE, STRLEN, GETRANGE and
// SUBSCRIBE, and with Options.WaitReplicas, INFO, SET and WAIT.
package redisrevocation

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
	"sync/atomic"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/redis/rueidis"
)

// Options configures a [List]. Every zero value is a default.
type Options struct {
	// Prefix names the list, "cookiesession:revocations:" by default.
	// Replicas that share sessions share a prefix. Its keys and channel
	// start with "{" + Prefix + "}", a Redis Cluster hash tag, so it may
	// not hold a brace.
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

	// WaitReplicas is how many replicas of the Redis primary must hold a
	// revocation before Revoke returns without error (Redis's WAIT, for up
	// to half of Timeout). Redis replicates asynchronously: with the
	// default, 0, a revocation the primary acknowledged is lost if the
	// primary fails before a replica copied it and a replica takes over.
	// With Sentinel or Cluster, set it to 1 (or more) so that a failover
	// loses nothing that Revoke reported shared. A revocation that did
	// not reach that many replicas is an error, in force locally and
	// written again until it does, like one Redis did not take; the
	// other replicas of the service have it meanwhile. So while the
	// primary has fewer replicas than this, every Revoke is an error.
	WaitReplicas int

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

// waiting is a revocation that Redis does not have for sure yet. With
// replid set, the primary of that replication ID took it, but fewer
// replicas than Options.WaitReplicas had it: it need not be written again
// unless another primary has taken over since.
type waiting struct {
	r      cookiesession.Revocation
	replid string
}

// List is a [cookiesession.RevocationList] shared through Redis. Create it
// with [New]; it is safe for concurrent use.
type List struct {
	client  rueidis.Client
	local   *cookiesession.MemoryRevocations
	tag     string // "{" + Prefix + "}", which starts every key
	index   string // the sorted set of day keys
	channel string
	opts    Options

	lostAt   atomic.Int64 // UnixNano when the subscription was lost; 0 while current
	warnedAt atomic.Int64 // UnixNano of the last staleness warning
	closed   atomic.Bool  // Close was called: nothing is retried any more

	mu      sync.Mutex
	pending []waiting     // not yet written to Redis, or not yet replicated
	wake    chan struct{} // tells retry that there is work, or Redis is back

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
	if strings.ContainsAny(opts.Prefix, "{}") {
		// The prefix is the list's hash tag: a brace in it would cut the
		// tag short, and spread the list's keys over Cluster slots.
		return nil, fmt.Errorf("redisrevocation: Options.Prefix %q holds a brace", opts.Prefix)
	}
	if info, err := client.Do(ctx, client.B().Info().Section("server").Build()).ToString(); err == nil {
		if err := checkVersion(info); err != nil {
			return nil, err
		}
	} // else Redis is away (the load waits for it) or hides INFO: no verdict
	tag := "{" + opts.Prefix + "}"
	l := &List{
		client:  client,
		local:   cookiesession.NewMemoryRevocations(),
		tag:     tag,
		index:   tag + "days",
		channel: tag + "records",
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

// checkVersion refuses a server older than Redis 7.0, given its INFO
// server: the script would fail at the first Revoke (PEXPIRETIME is
// 7.0's), after the list had loaded as if all were well. Valkey reports
// the Redis version it matches.
func checkVersion(info string) error {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			if n, err := strconv.Atoi(major); err == nil && n < 7 {
				return fmt.Errorf("redisrevocation: needs Redis 7.0 or later (or Valkey); the server is %s", v)
			}
		}
	}
	return nil
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
	n := len(l.pending)
	l.mu.Unlock()
	if n == 0 {
		return
	}
	if shared, err := l.flush(context.Background()); err != nil {
		l.opts.Logger.Error("redisrevocation: closed with revocations Redis never got; other replicas will not enforce them",
			"count", n-shared, "err", err)
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
// It refuses, and puts nowhere, an entry no session needs: an Until more
// than 400 days (and a day) ahead, a Before after its Until, or an ID or
// subject longer than 4096 bytes.
func (l *List) Revoke(ctx context.Context, r cookiesession.Revocation) error {
	if err := checkShareable(r, time.Now()); err != nil {
		return err
	}
	if err := l.local.Revoke(ctx, r); err != nil {
		return err
	}
	if err := l.share(ctx, []cookiesession.Revocation{r}); err != nil {
		return l.keep([]cookiesession.Revocation{r}, err)
	}
	return nil
}

// keep queues rs, which share could not promise, to be retried, and
// returns the error for Revoke's or RevokeMany's caller.
func (l *List) keep(rs []cookiesession.Revocation, err error) error {
	var taken *unreplicatedError
	errors.As(err, &taken)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed.Load():
		return fmt.Errorf("redisrevocation: %d revocations in force on this replica only, and the list is closed: %w", len(rs), err)
	case len(l.pending)+len(rs) > maxPending:
		l.opts.Logger.Error("redisrevocation: revocations in force on this replica only; too many wait for Redis already to keep more",
			"count", len(rs), "waiting", len(l.pending), "err", err)
		return fmt.Errorf("redisrevocation: %d revocations in force on this replica only; too many wait for Redis already: %w", len(rs), err)
	}
	for _, r := range rs {
		w := waiting{r: r}
		if taken != nil {
			w.replid = taken.replid
		}
		l.pending = append(l.pending, w)
	}
	l.poke()
	return fmt.Errorf("redisrevocation: %d revocations in force on this replica only until Redis has them; retrying: %w", len(rs), err)
}

// RevokeMany is Revoke for many revocations at once, as after an incident:
// every one is in force on this replica at once, and they are shared
// through Redis in pipelined batches rather than one round trip each.
// Nothing is applied when one of them is invalid. When Redis cannot take
// them all, it returns an error, and those it did not take are written
// again in the background, as Revoke's are.
func (l *List) RevokeMany(ctx context.Context, rs []cookiesession.Revocation) error {
	for i, r := range rs {
		if err := checkShareable(r, time.Now()); err != nil {
			return fmt.Errorf("redisrevocation: revocation %d: %w", i, err)
		}
	}
	if err := l.local.RevokeMany(ctx, rs); err != nil {
		return fmt.Errorf("redisrevocation: %w", err)
	}
	var errs []error
	for start := 0; start < len(rs); start += batch {
		part := rs[start:min(start+batch, len(rs))]
		if err := l.share(ctx, part); err != nil {
			errs = append(errs, l.keep(part, err))
		}
	}
	return errors.Join(errs...)
}

// batch is how many revocations one pipelined share carries: about 32 KB
// of records, one message to each replica.
const batch = 1000

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
// keeps those it could not write. Those a primary took already are only
// confirmed, with WAIT, unless another primary has taken over since. It
// returns how many Redis now has.
func (l *List) flush(ctx context.Context) (int, error) {
	l.mu.Lock()
	all := l.pending
	l.pending = nil
	l.mu.Unlock()
	var toShare []cookiesession.Revocation
	var taken []waiting
	for _, w := range all {
		if w.replid == "" {
			toShare = append(toShare, w.r)
		} else {
			taken = append(taken, w)
		}
	}
	var errs []error
	done := 0
	if len(taken) > 0 {
		replid, err := l.confirm(ctx)
		var short *unreplicatedError
		switch {
		case errors.As(err, &short) || err == nil:
			for _, w := range taken {
				switch {
				case w.replid != replid:
					toShare = append(toShare, w.r) // the primary that took it is gone
				case err == nil:
					done++
				default:
					l.requeue(w)
				}
			}
			if err != nil {
				errs = append(errs, err)
			}
		default:
			for _, w := range taken {
				l.requeue(w)
			}
			errs = append(errs, err)
		}
	}
	for start := 0; start < len(toShare); start += batch {
		part := toShare[start:min(start+batch, len(toShare))]
		err := l.share(ctx, part)
		if err == nil {
			done += len(part)
			continue
		}
		var short *unreplicatedError
		errors.As(err, &short)
		for _, r := range part {
			w := waiting{r: r}
			if short != nil {
				w.replid = short.replid
			}
			l.requeue(w)
		}
		errs = append(errs, err)
	}
	return done, errors.Join(errs...)
}

// requeue puts w back among the pending.
func (l *List) requeue(w waiting) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, w)
}

// appendScript appends records to a day's bucket, keeps the bucket until
// its expiry and lists it in the index, prunes the index of days past (by
// Redis's clock, which every replica shares), and publishes the records,
// in one atomic step. The index expires with its last day, so a list no
// longer written leaves nothing behind.
//
// KEYS: the day's bucket, the index. ARGV: the records, the bucket's
// expiry (Unix ms), the channel, messageMagic. It returns the bucket's
// size.
const appendScript = `
local size = redis.call('APPEND', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ARGV[1])
return size
`

// share writes rs to Redis and publishes them, in one pipeline of a
// script call per day, and with Options.WaitReplicas waits for the
// replicas to have them. Entries whose sessions have all expired are
// left out.
func (l *List) share(ctx context.Context, rs []cookiesession.Revocation) error {
	now := time.Now()
	days := map[int64][]byte{}
	for _, r := range rs {
		if r.Until.After(now) {
			end := dayEnd(r.Until)
			days[end] = appendRecord(days[end], r)
		}
	}
	if len(days) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	cmds := make(rueidis.Commands, 0, len(days)+1)
	for end, records := range days {
		// EVAL, not EVALSHA: a primary that just took over after a
		// failover has no script cache, and the script's text is small
		// beside the records it carries.
		expiry := strconv.FormatInt(end+expiryMargin.Milliseconds(), 10)
		cmds = append(cmds, l.client.B().Eval().Script(appendScript).Numkeys(2).Key(l.dayKey(end), l.index).
			Arg(rueidis.BinaryString(records), expiry, l.channel, messageMagic).Build())
	}
	if l.opts.WaitReplicas == 0 {
		return firstError(l.client.DoMulti(ctx, cmds...))
	}
	_, err := l.replicated(ctx, cmds)
	return err
}

// unreplicatedError: the primary took the revocations, but fewer replicas
// than Options.WaitReplicas have them.
type unreplicatedError struct {
	replid    string // the primary's replication ID
	got, want int64
}

func (e *unreplicatedError) Error() string {
	return fmt.Sprintf("redisrevocation: %d of the %d replicas asked for have the revocation", e.got, e.want)
}

// replicated runs writes on one dedicated connection to the primary, with
// the primary's replication ID before them and a WAIT after them: WAIT
// counts the replicas that have this connection's writes, so it must
// follow them there. WAIT gets half of Options.Timeout, so that its
// answer arrives before ctx ends. It returns the replication ID, and an
// *unreplicatedError when too few replicas answered.
func (l *List) replicated(ctx context.Context, writes rueidis.Commands) (replid string, err error) {
	cmds := make(rueidis.Commands, 0, len(writes)+2)
	cmds = append(cmds, l.client.B().Info().Section("replication").Build())
	cmds = append(cmds, writes...)
	wait := max(l.opts.Timeout.Milliseconds()/2, 1)
	cmds = append(cmds, l.client.B().Wait().Numreplicas(int64(l.opts.WaitReplicas)).Timeout(wait).Build())
	err = l.client.Dedicated(func(c rueidis.DedicatedClient) error {
		res := c.DoMulti(ctx, cmds...)
		if err := firstError(res); err != nil {
			return err
		}
		info, _ := res[0].ToString()
		for _, line := range strings.Split(info, "\r\n") {
			if id, ok := strings.CutPrefix(line, "master_replid:"); ok {
				replid = id
			}
		}
		if replid == "" {
			return errors.New("redisrevocation: INFO replication names no master_replid")
		}
		got, err := res[len(res)-1].AsInt64()
		if err == nil && got < int64(l.opts.WaitReplicas) {
			err = &unreplicatedError{replid, got, int64(l.opts.WaitReplicas)}
		}
		return err
	})
	return replid, err
}

// confirm waits for the replicas to have what the primary took, by a
// small write of its own followed by WAIT: replicas apply writes in order,
// so one that has it has every earlier one. It returns the primary's
// replication ID, by which a caller tells whether the primary it wrote to
// is still the one.
func (l *List) confirm(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	mark := l.client.B().Set().Key(l.tag + "confirmed").Value(strconv.FormatInt(time.Now().UnixMilli(), 10)).Px(day).Build()
	return l.replicated(ctx, rueidis.Commands{mark})
}

func firstError(res []rueidis.RedisResult) error {
	for _, r := range res {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// apply takes records, as appended to a bucket or published, into the
// local copy, and returns how many bytes of s it used: a record cut at
// the end of s is left for the caller to complete. It applies all of them
// or, when one cannot be read or is out of bounds, none: s is then not
// this package's. The records are put in force together, as the list
// loads fastest.
func (l *List) apply(s string) (int, error) {
	rs := make([]cookiesession.Revocation, 0, len(s)/sessionRecord+1)
	now := time.Now().Add(maxSkew)
	used := 0
	for used < len(s) {
		r, n, err := nextRecord(s[used:])
		if err == nil && n > 0 {
			err = checkShareable(r, now)
		}
		if err != nil {
			return 0, fmt.Errorf("%w (at byte %d)", corrupt(err), used)
		}
		if n == 0 {
			break
		}
		rs = append(rs, r)
		used += n
	}
	// The IDs are substrings of s; the local list does not keep them.
	if err := l.local.RevokeMany(context.Background(), rs); err != nil {
		return 0, corrupt(err)
	}
	return used, nil
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
			records, ours := strings.CutPrefix(m.Message, messageMagic)
			used, err := 0, error(nil)
			if ours {
				used, err = l.apply(records)
			}
			if !ours || err != nil || used < len(records) {
				l.opts.Logger.Error("redisrevocation: ignored a message on the list's channel that is not a whole set of records; a replica of another version, or something else, publishes there",
					"channel", l.channel, "err", err)
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

// How the load reads the buckets: in pages, so that a day holding a
// million entries costs a few pages of memory at a time, not 32 MB, and
// several pages per round trip.
const (
	pageSize     = 256 << 10
	pagesPerTrip = 16
)

// load reads every live entry into the local copy: the index, the size
// of each bucket it lists, so that the local table grows once, then every
// bucket, page by page, one round trip ahead of the pages being applied.
// Records appended after the sizes were read need not be read: the list
// was subscribed first, so they arrive as messages.
func (l *List) load(ctx context.Context) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	keys, err := l.client.Do(ctx, l.client.B().Zrange().Key(l.index).Min(now).Max("+inf").Byscore().Build()).AsStrSlice()
	if err != nil || len(keys) == 0 {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k string) bool {
		if strings.HasPrefix(k, l.tag+"day:") {
			return false
		}
		l.opts.Logger.Error("redisrevocation: skipped a key in the list's index that is not one of its days", "index", l.index, "key", k)
		return true
	})
	if len(keys) == 0 {
		return nil
	}
	sizes := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		sizes[i] = l.client.B().Strlen().Key(k).Build()
	}
	type page struct {
		key       string
		off, size int64 // its offset, and the bucket's size
	}
	var pages []page
	var total int64
	for i, res := range l.client.DoMulti(ctx, sizes...) {
		size, err := res.AsInt64()
		if _, fromRedis := rueidis.IsRedisErr(err); err != nil && !fromRedis {
			return err
		} else if err != nil {
			l.opts.Logger.Error("redisrevocation: skipped a day of the list that is not a string", "key", keys[i], "err", err)
			continue
		}
		for off := int64(0); off < size; off += pageSize {
			pages = append(pages, page{keys[i], off, size})
		}
		total += size
	}
	l.local.Grow(int(total/sessionRecord) - l.local.Len()) // a reload holds most already

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetched := make(chan []string, 1)
	var fetchErr error
	go func() {
		defer close(fetched)
		for start := 0; start < len(pages); start += pagesPerTrip {
			trip := pages[start:min(start+pagesPerTrip, len(pages))]
			cmds := make(rueidis.Commands, len(trip))
			for i, p := range trip {
				cmds[i] = l.client.B().Getrange().Key(p.key).Start(p.off).End(min(p.off+pageSize, p.size) - 1).Build()
			}
			data := make([]string, len(trip))
			for i, res := range l.client.DoMulti(ctx, cmds...) {
				if data[i], fetchErr = res.ToString(); fetchErr != nil {
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
	next, carry, skip := 0, "", ""
	for data := range fetched {
		for _, d := range data {
			p := pages[next]
			next++
			if p.key == skip {
				continue
			}
			rest, err := l.applyPage(carry, d)
			carry = ""
			switch {
			case err != nil:
				l.opts.Logger.Error("redisrevocation: skipped the rest of a bucket it cannot read", "key", p.key, "err", err)
				skip = p.key
			case p.off+pageSize < p.size:
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
func (l *List) applyPage(carry, page string) (rest string, err error) {
	if carry != "" {
		// Join only what completes the cut record, not the whole page.
		head := carry + page[:min(len(page), maxRecord)]
		r, n, err := nextRecord(head)
		if err == nil && n > 0 {
			err = checkShareable(r, time.Now().Add(maxSkew))
		}
		switch {
		case err != nil:
			return "", corrupt(err)
		case n == 0:
			return head, nil // the bucket ended first
		}
		if err := l.local.Revoke(context.Background(), r); err != nil {
			return "", corrupt(err)
		}
		page = page[n-len(carry):]
	}
	used, err := l.apply(page)
	return page[used:], err
}
