// Package redisrevocation shares a cookiesession revocation list between
// the replicas of a service through Redis or Valkey, without a network
// round trip on the request path.
//
// Each replica keeps every live revocation in its own memory (a
// [cookiesession.MemoryRevocations]) and answers from it. Redis holds the
// entries packed in strings per day of expiry, each dropped by Redis
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
// It works with github.com/redis/rueidis and with
// github.com/redis/go-redis/v9, through a driver each, a module of its
// own (rueidisdriver and goredisdriver, beside this one), so that a
// service builds only the client it uses; the list itself depends on
// none (see package driver). Either client follows a Cluster's slots and
// a Sentinel's failovers by itself. It needs Redis 7 or Valkey: the
// commands used are EVAL (with TYPE, APPEND, PEXPIREAT, PEXPIRETIME,
// ZADD, ZRANGE, ZREMRANGEBYSCORE, TIME and PUBLISH), ZRANGE, STRLEN,
// GETRANGE and SUBSCRIBE, and with Options.WaitReplicas, INFO
// replication, SET and WAIT; New refuses a Redis user whose ACL lacks
// one of them, naming it.
//
// Whoever may PUBLISH on the list's channel, or write its keys, can
// revoke sessions, everyone's included: keep both to the service's own
// Redis user (the README has an ACL that does).
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
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
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

// waiting is a revocation that Redis does not have for sure yet. Once
// taken, the primary wrote it (the primary of replid, when its INFO
// answered), but fewer replicas than Options.WaitReplicas were known to
// have it: it is only confirmed from then on, never written again, unless
// a primary of another replication ID has taken over since.
type waiting struct {
	r      cookiesession.Revocation
	taken  bool
	replid string
}

// List is a [cookiesession.RevocationList] shared through Redis. Create it
// with [New]; it is safe for concurrent use.
type List struct {
	client driver.Client
	local  *cookiesession.MemoryRevocations
	keys   record.Keys
	opts   Options

	lostAt   atomic.Int64 // UnixNano when the subscription was lost; 0 while current
	warnedAt atomic.Int64 // UnixNano of the last staleness warning
	closed   atomic.Bool  // Close was called: nothing is retried any more

	mu      sync.Mutex
	pending []waiting // not yet written to Redis, or not yet replicated
	// flushing counts the pending that flush took and has neither put
	// back nor finished with.
	flushing int
	wake     chan struct{} // tells retry that there is work, or Redis is back

	ignored refusals                       // what the channel carried that was refused
	seen    func(cookiesession.Revocation) // State's, on a List of its own: every record read
	sized   func(key string, size int64)   // State's: every string of a day, with its size

	stop context.CancelFunc
	done sync.WaitGroup
}

// New checks that the client's Redis user may run every command the list
// needs with opts (INFO replication and WAIT with Options.WaitReplicas),
// and refuses with an error naming what its ACL lacks. Then it subscribes
// to the list's channel, loads every live entry, and returns once the
// list is current, so a replica started after revocations were made
// rejects those sessions from its first request.
// It keeps the list current in the background until Close, reconnecting
// and reloading after any outage. ctx bounds only the first load; New
// fails if Redis cannot be reached before it ends. The client stays the
// caller's to close, after Close: wrap a rueidis client with
// rueidisdriver.New, a go-redis one with goredisdriver.New.
func New(ctx context.Context, client driver.Client, opts Options) (*List, error) {
	opts.Prefix = cmp.Or(opts.Prefix, record.DefaultPrefix)
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
	if info, err := str(client.Do(ctx, command("INFO", "server"))[0]); err == nil {
		if err := checkVersion(info); err != nil {
			return nil, err
		}
	} // else Redis is away (the probe waits for it) or hides INFO: the probe says
	l := &List{
		client: client,
		local:  cookiesession.NewMemoryRevocations(),
		keys:   record.KeysOf(opts.Prefix),
		opts:   opts,
		wake:   make(chan struct{}, 1),
	}
	if err := l.probe(ctx); err != nil {
		return nil, err
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
// A record Redis wrote is never written again, only confirmed (with
// Options.WaitReplicas), unless a failover put another primary in its
// place. When Redis refuses the write itself (a key of the list's holding
// another type, or an ACL that refuses a command), nothing is written,
// the error names the key or the command, is logged at ERROR, and r is
// not retried: writing again cannot mend that. It refuses, and puts nowhere, an entry no session needs: an Until more
// than 400 days (and a day) ahead, a Before after its Until or more than
// 5 minutes ahead of now, or an ID or subject longer than 4096 bytes.
//
// An entry this replica holds already, of the same kind and name and
// until at least as late, is not shared again: a logout replayed with the
// same cookie costs neither Redis nor the other replicas anything. (It
// returns an error while other revocations wait for Redis, since this
// one may be among them.)
func (l *List) Revoke(ctx context.Context, r cookiesession.Revocation) error {
	if err := record.Check(r, time.Now(), false); err != nil {
		return err
	}
	if l.local.Covers(r) {
		return l.stillWaiting()
	}
	if err := l.local.Revoke(ctx, r); err != nil {
		return err
	}
	return l.share(ctx, []cookiesession.Revocation{r})
}

// RevokeMany is Revoke for many revocations at once, as after an incident:
// every one is in force on this replica at once, and they are shared
// through Redis in pipelined batches rather than one round trip each.
// Nothing is applied when one of them is invalid. When Redis cannot take
// them all, it returns an error, and those it did not take are written
// again in the background, as Revoke's are.
//
// Those this replica holds already are left out, as Revoke leaves them.
func (l *List) RevokeMany(ctx context.Context, rs []cookiesession.Revocation) error {
	now := time.Now()
	for i, r := range rs {
		if err := record.Check(r, now, false); err != nil {
			return fmt.Errorf("redisrevocation: revocation %d: %w", i, err)
		}
	}
	fresh := slices.DeleteFunc(slices.Clone(rs), l.local.Covers)
	if err := l.local.RevokeMany(ctx, fresh); err != nil {
		return fmt.Errorf("redisrevocation: %w", err)
	}
	var errs []error
	if len(fresh) < len(rs) {
		errs = append(errs, l.stillWaiting())
	}
	for start := 0; start < len(fresh); start += batch {
		errs = append(errs, l.share(ctx, fresh[start:min(start+batch, len(fresh))]))
	}
	return errors.Join(errs...)
}

// batch is how many revocations one pipelined share carries: about 32 KB
// of records, one message to each replica.
const batch = 1000

// stillWaiting is nil when no revocation waits for Redis, and otherwise
// the error for a revocation this replica held already: it may be one of
// those.
func (l *List) stillWaiting() error {
	l.mu.Lock()
	n := len(l.pending)
	l.mu.Unlock()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("redisrevocation: in force on this replica; %d revocations wait for Redis, and it may be among them", n)
}

// Len returns how many session and subject entries are in force on this
// replica.
func (l *List) Len() int { return l.local.Len() }

// State is what the list holds in Redis, as [List.State] reads it.
type State struct {
	// Records by kind. A revocation written more than once (a retry, a
	// later Until) counts each time; those past their Until do not.
	Sessions, Subjects, Everyone int
	// Bytes is the size of the records in Redis; Strings, how many
	// strings hold them, over Days UTC days of expiry.
	Bytes         int64
	Strings, Days int
	// Oldest and Newest are the earliest and latest Until among the
	// records; zero when there are none.
	Oldest, Newest time.Time
	// Pending is how many revocations made on this replica Redis does not
	// have for sure yet: written again, or confirmed, in the background.
	Pending int
}

// Pending is how many revocations made on this replica Redis does not
// have for sure yet, as State reports it, without reading Redis: cheap
// enough for a metrics scrape (promcollector.NewPending(list.Pending),
// otelmetrics.RegisterPending(meter, list.Pending)), where the alerting
// rule on revocations waiting for Redis reads it.
func (l *List) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) + l.flushing
}

// State reads every record of the list from Redis, as a replica that
// starts does, and sums them up. It is for operators and health pages,
// not for the request path: it costs a full load.
func (l *List) State(ctx context.Context) (State, error) {
	st := State{Pending: l.Pending()}
	read := &List{client: l.client, local: cookiesession.NewMemoryRevocations(), keys: l.keys, opts: l.opts}
	days := map[string]bool{}
	read.seen = func(r cookiesession.Revocation) {
		switch {
		case r.SessionID != "":
			st.Sessions++
		case r.Subject != "":
			st.Subjects++
		default:
			st.Everyone++
		}
		if st.Oldest.IsZero() || r.Until.Before(st.Oldest) {
			st.Oldest = r.Until
		}
		if r.Until.After(st.Newest) {
			st.Newest = r.Until
		}
	}
	read.sized = func(key string, size int64) {
		st.Strings++
		st.Bytes += size
		if day, _, _ := strings.Cut(strings.TrimPrefix(key, l.keys.Tag+"day:"), ":"); day != "" {
			if !days[day] {
				days[day] = true
				st.Days++
			}
		}
	}
	if err := read.load(ctx); err != nil {
		return State{}, fmt.Errorf("redisrevocation: %w", err)
	}
	return st, nil
}
