package redisrevocation

// Sharing: writing revocations to Redis, publishing them, confirming that
// Redis replicas have them, and writing again what Redis did not take.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
)

// keep queues ws, which Redis did not take for sure, to be written again
// or confirmed, and returns the error for Revoke's or RevokeMany's caller.
func (l *List) keep(ws []waiting, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed.Load():
		return fmt.Errorf("redisrevocation: %d revocations in force on this replica only, and the list is closed: %w", len(ws), err)
	case len(l.pending)+len(ws) > maxPending:
		l.opts.Logger.Error("redisrevocation: revocations in force on this replica only; too many wait for Redis already to keep more",
			"count", len(ws), "waiting", len(l.pending), "err", err)
		return fmt.Errorf("redisrevocation: %d revocations in force on this replica only; too many wait for Redis already: %w", len(ws), err)
	}
	l.pending = append(l.pending, ws...)
	l.poke()
	return fmt.Errorf("redisrevocation: %d revocations in force on this replica only until Redis has them; retrying: %w", len(ws), err)
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
// keeps those it could not write. Those a primary took already are only
// confirmed, with WAIT, unless a primary of another replication ID has
// taken over since. It returns how many Redis now has.
func (l *List) flush(ctx context.Context) (int, error) {
	l.mu.Lock()
	all := l.pending
	l.pending = nil
	l.flushing += len(all) // still pending for Pending until put back or done
	l.mu.Unlock()
	back := 0
	defer func() {
		l.mu.Lock()
		l.flushing -= len(all) - back
		l.mu.Unlock()
	}()
	var toShare []cookiesession.Revocation
	var taken []waiting
	for _, w := range all {
		if w.taken {
			taken = append(taken, w)
		} else {
			toShare = append(toShare, w.r)
		}
	}
	var errs []error
	done := 0
	if len(taken) > 0 {
		replid, err := l.confirm(ctx)
		var short *unreplicatedError
		if err != nil && !errors.As(err, &short) {
			replid = "" // not known to be another primary: confirm again, never write again
		}
		for _, w := range taken {
			switch {
			case replid != "" && w.replid != "" && w.replid != replid:
				toShare = append(toShare, w.r) // the primary that took it is gone
			case err == nil:
				done++
			default:
				l.requeue(w)
				back++
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for start := 0; start < len(toShare); start += batch {
		part := toShare[start:min(start+batch, len(toShare))]
		left, refused, _, err := l.write(ctx, part) // refusals are logged, and not retried
		done += len(part) - len(left) - refused
		for _, w := range left {
			l.requeue(w)
			back++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

// requeue puts w, taken by flush, back among the pending.
func (l *List) requeue(w waiting) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, w)
	l.flushing--
}

// appendScript appends records to the last string of a day, keeps it
// until the day's expiry and lists it in the index, prunes the index of
// days past (by Redis's clock, which every replica shares), and publishes
// the records, in one atomic step. The index expires with its last day,
// so a list no longer written leaves nothing behind.
//
// A string holds at most proto-max-bulk-len bytes (512 MB by default, 1 MB
// at least): an APPEND past it fails, writing nothing, and the records go
// to the day's next string instead, <first>:<n>. The day's strings are
// found in the index, by their score, the day's expiry.
//
// Nothing is written unless every write can succeed: a key of another
// type, or a command the user's ACL refuses, is an error, naming the key
// or the command, before any write. (Redis does not undo a script's
// writes when a later one fails, and a record written and then retried
// would be written twice.)
//
// KEYS: the day's first string, the index. ARGV: the records, the day's
// expiry (Unix ms), the channel, record.Magic. It returns the size of the
// string written to.
const appendScript = `
local first, index, records, expiry = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local function foreign(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE redisrevocation: key ' .. key .. ' holds a ' .. t .. ', not a ' .. want ..
      '; something other than the list writes under its prefix')
  end
end
local err = foreign(index, 'zset')
if err then return err end
local key, n = first, 1
for _, member in ipairs(redis.call('ZRANGE', index, expiry, expiry, 'BYSCORE')) do
  if string.sub(member, 1, #first + 1) == first .. ':' then
    local m = tonumber(string.sub(member, #first + 2))
    if m and m > n then key, n = member, m end
  end
end
local next = first .. ':' .. (n + 1)
err = foreign(key, 'string')
if err then return err end
for _, c in ipairs({{'APPEND', key, ''}, {'APPEND', next, ''}, {'PEXPIREAT', key, expiry}, {'ZADD', index, expiry, key},
    {'ZREMRANGEBYSCORE', index, '-inf', '0'}, {'PEXPIRETIME', index}, {'PEXPIREAT', index, expiry}, {'PUBLISH', ARGV[3], ''}}) do
  if not redis.acl_check_cmd(unpack(c)) then
    return redis.error_reply('NOPERM redisrevocation: this user may not run ' .. c[1] .. ' on ' .. c[2])
  end
end
local size = redis.pcall('APPEND', key, records)
if type(size) == 'table' then
  if not string.find(size.err, 'maximum allowed size', 1, true) then return size end
  key = next
  err = foreign(key, 'string')
  if err then return err end
  size = redis.call('APPEND', key, records)
end
redis.call('PEXPIREAT', key, expiry)
redis.call('ZADD', index, expiry, key)
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
if redis.call('PEXPIRETIME', index) < tonumber(expiry) then
  redis.call('PEXPIREAT', index, expiry)
end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. records)
return size
`

// refusedByScript tells the script's own refusals (a foreign key, an ACL
// that refuses a command), which writing again cannot mend, from a
// failure that it can.
func refusedByScript(err error) bool {
	re, ok := redisError(err)
	return ok && strings.Contains(string(re), " redisrevocation: ")
}

// share writes rs to Redis, as write does, and returns the error for
// Revoke's or RevokeMany's caller: those Redis did not take for sure are
// kept, to be written again or confirmed; those it refused are not.
func (l *List) share(ctx context.Context, rs []cookiesession.Revocation) error {
	left, refused, refusal, err := l.write(ctx, rs)
	var errs []error
	if refused > 0 {
		errs = append(errs, fmt.Errorf("redisrevocation: %d revocations in force on this replica only; Redis refused them, not retried: %w", refused, refusal))
	}
	if len(left) > 0 {
		errs = append(errs, l.keep(left, err))
	}
	return errors.Join(errs...)
}

// part is what one script call appends, and one message carries: records
// of one day, at most record.MaxMessageRecords bytes of them.
type part struct {
	end     int64
	records []byte
	rs      []cookiesession.Revocation
}

// write writes rs to Redis and publishes them, in one pipeline of a
// script call per day (or per record.MaxMessageRecords of a day), and with
// Options.WaitReplicas waits for the replicas to have them. Entries whose
// sessions have all expired are left out. It returns those Redis did not
// take for sure, as waiting entries (taken when the primary wrote them),
// with the error for those; and how many the script refused, with why,
// which are logged at ERROR and lost to the other replicas.
func (l *List) write(ctx context.Context, rs []cookiesession.Revocation) (left []waiting, refused int, refusal, err error) {
	now := time.Now()
	var parts []*part
	open := map[int64]*part{}
	for _, r := range rs {
		if !r.Until.After(now) {
			continue
		}
		end := record.DayEnd(r.Until)
		p := open[end]
		if n := len(record.Append(nil, r)); p == nil || len(p.records)+n > record.MaxMessageRecords {
			p = &part{end: end}
			open[end] = p
			parts = append(parts, p)
		}
		p.records = record.Append(p.records, r)
		p.rs = append(p.rs, r)
	}
	if len(parts) == 0 {
		return nil, 0, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	cmds := make([]driver.Command, 0, len(parts))
	for _, p := range parts {
		// EVAL, not EVALSHA: a primary that just took over after a
		// failover has no script cache, and the script's text is small
		// beside the records it carries.
		expiry := strconv.FormatInt(p.end+record.ExpiryMargin.Milliseconds(), 10)
		cmds = append(cmds, driver.Command{Name: []string{"EVAL", appendScript, "2"}, Keys: []string{l.keys.Day(p.end), l.keys.Index},
			Args: []string{string(p.records), expiry, l.keys.Channel, record.Magic}})
	}
	var results []driver.Reply
	var replid string
	var waitErr error
	if l.opts.WaitReplicas == 0 {
		results = l.client.Do(ctx, cmds...)
	} else {
		replid, results, waitErr = l.replicated(ctx, cmds)
	}
	var errs, refusals []error
	for i, p := range parts {
		var werr error
		if results == nil {
			werr = waitErr // no write was sent
		} else {
			werr = results[i].Err
		}
		switch {
		case refusedByScript(werr):
			refused += len(p.rs)
			l.opts.Logger.Error("redisrevocation: Redis refused revocations; they are in force on this replica only, and not retried",
				"count", len(p.rs), "err", werr)
			refusals = append(refusals, werr)
		case werr != nil:
			for _, r := range p.rs {
				left = append(left, waiting{r: r})
			}
			errs = append(errs, werr)
		case waitErr != nil:
			for _, r := range p.rs {
				left = append(left, waiting{r: r, taken: true, replid: replid})
			}
		}
	}
	if waitErr != nil && results != nil {
		errs = append(errs, waitErr)
	}
	return left, refused, errors.Join(refusals...), errors.Join(errs...)
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
// answer arrives before ctx ends. It returns the replication ID ("" when
// INFO did not answer), each write's result (nil when none was sent), and
// an error when INFO or WAIT failed, an *unreplicatedError when too few
// replicas answered.
func (l *List) replicated(ctx context.Context, writes []driver.Command) (replid string, results []driver.Reply, err error) {
	cmds := make([]driver.Command, 0, len(writes)+2)
	cmds = append(cmds, command("INFO", "replication"))
	cmds = append(cmds, writes...)
	wait := max(l.opts.Timeout.Milliseconds()/2, 1)
	cmds = append(cmds, command("WAIT", strconv.Itoa(l.opts.WaitReplicas), strconv.FormatInt(wait, 10)))
	res := l.client.Dedicated(ctx, cmds...)
	results = res[1 : len(res)-1]
	info, err := str(res[0])
	if err != nil {
		return "", results, fmt.Errorf("INFO replication: %w", err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if id, ok := strings.CutPrefix(line, "master_replid:"); ok {
			replid = id
		}
	}
	if replid == "" {
		return "", results, errors.New("INFO replication names no master_replid")
	}
	got, err := integer(res[len(res)-1])
	if err == nil && got < int64(l.opts.WaitReplicas) {
		err = &unreplicatedError{replid, got, int64(l.opts.WaitReplicas)}
	}
	return replid, results, err
}

// confirm waits for the replicas to have what the primary took, by a
// small write of its own followed by WAIT: replicas apply writes in order,
// so one that has it has every earlier one. It returns the primary's
// replication ID, by which a caller tells whether the primary it wrote to
// is still the one.
func (l *List) confirm(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	mark := keyed("SET", l.keys.Confirmed, strconv.FormatInt(time.Now().UnixMilli(), 10), "PX", strconv.FormatInt(record.Day.Milliseconds(), 10))
	replid, results, err := l.replicated(ctx, []driver.Command{mark})
	if results != nil && err == nil {
		err = results[0].Err
	}
	return replid, err
}

// probeScript answers which of the commands the list runs this user's
// ACL refuses, as written, on the list's keys and channel, without
// running any; then whether the index is a key of another type, which
// no replica could load. KEYS: a day's string, the index, the confirmation mark.
// ARGV: the channel, and "1" when Options.WaitReplicas asks for WAIT.
const probeScript = `
local denied = {}
local function can(...)
  if not redis.acl_check_cmd(...) then table.insert(denied, table.concat({...}, ' ')) end
end
can('APPEND', KEYS[1], '')
can('TYPE', KEYS[1])
can('PEXPIREAT', KEYS[1], '0')
can('ZADD', KEYS[2], '0', KEYS[1])
can('ZRANGE', KEYS[2], '0', '-1', 'BYSCORE')
can('ZREMRANGEBYSCORE', KEYS[2], '-inf', '0')
can('PEXPIRETIME', KEYS[2])
can('TIME')
can('PUBLISH', ARGV[1], '')
can('SUBSCRIBE', ARGV[1])
can('STRLEN', KEYS[1])
can('GETRANGE', KEYS[1], '0', '0')
if ARGV[2] == '1' then
  can('INFO', 'replication')
  can('SET', KEYS[3], '0')
  can('WAIT', '0', '0')
end
if #denied == 0 then
  local t = redis.call('TYPE', KEYS[2])['ok']
  if t ~= 'none' and t ~= 'zset' then
    return redis.error_reply('WRONGTYPE redisrevocation: key ' .. KEYS[2] .. ' holds a ' .. t ..
      ', not a zset; something other than the list writes under its prefix')
  end
end
return denied
`

// probe asks Redis whether this user may run every command the list will
// need, with the options given, so that New refuses an ACL that would
// fail a Revoke after its record was written. With Options.WaitReplicas
// it also runs INFO replication and WAIT, which a server can rename or
// refuse whatever the ACL says. It waits for Redis until ctx ends.
func (l *List) probe(ctx context.Context) error {
	wait := "0"
	if l.opts.WaitReplicas > 0 {
		wait = "1"
	}
	cmds := []driver.Command{{Name: []string{"EVAL", probeScript, "3"},
		Keys: []string{l.keys.Day(0), l.keys.Index, l.keys.Confirmed}, Args: []string{l.keys.Channel, wait}}}
	if l.opts.WaitReplicas > 0 {
		cmds = append(cmds, command("INFO", "replication"), command("WAIT", "0", "0"))
	}
	for backoff := minRetry; ; backoff = min(2*backoff, maxRetry) {
		var denied []string
		err := func() error {
			res := l.client.Dedicated(ctx, cmds...)
			var err error
			if denied, err = strs(res[0]); err != nil {
				return fmt.Errorf("EVAL: %w", err)
			}
			if len(res) > 1 && len(denied) == 0 {
				if err := res[1].Err; err != nil {
					return fmt.Errorf("INFO replication (for WaitReplicas): %w", err)
				}
				if err := res[2].Err; err != nil {
					return fmt.Errorf("WAIT (for WaitReplicas): %w", err)
				}
			}
			return nil
		}()
		if err == nil && len(denied) > 0 {
			var grant []string
			for _, d := range denied {
				name, _, _ := strings.Cut(d, " ")
				grant = append(grant, "+"+strings.ToLower(name))
			}
			return fmt.Errorf("redisrevocation: the Redis user may not run %s; it needs %s on keys ~%s* and channel &%s (ACL SETUSER; see the README)",
				strings.Join(denied, ", "), strings.Join(slices.Compact(grant), " "), l.keys.Tag, l.keys.Channel)
		}
		if err == nil {
			return nil
		}
		if err != nil && strings.Contains(err.Error(), "acl_check_cmd") {
			// Redis 6 has no redis.acl_check_cmd; INFO server, which
			// would have said so, was refused.
			return fmt.Errorf("redisrevocation: needs Redis 7.0 or later (or Valkey): %w", err)
		}
		if re, ok := redisError(err); ok && !transient(re) {
			return fmt.Errorf("redisrevocation: Redis refused what the list needs: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redisrevocation: first load: %w (last: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}

// transient tells an error reply that a moment mends (a server loading
// its data, a Cluster or a replica between primaries) from a refusal.
func transient(re driver.ErrorReply) bool {
	for _, p := range []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"} {
		if strings.HasPrefix(string(re), p) {
			return true
		}
	}
	return false
}
