// Package goredisdriver lets a [redisrevocation.List] share revocations
// through a github.com/redis/go-redis/v9 client: a single Redis
// (redis.NewClient), Sentinel (redis.NewFailoverClient) or Cluster
// (redis.NewClusterClient).
//
//	list, err := redisrevocation.New(ctx, goredisdriver.New(rdb), redisrevocation.Options{})
//
// Set the client's ContextTimeoutEnabled: without it, go-redis bounds a
// call by its ReadTimeout (3 s by default, and again for each of its
// retries) rather than by the context, so Options.Timeout would not bound
// a revocation's write to a Redis that stalls.
//
// It is a module of its own so that a service using rueidis instead never
// builds go-redis.
//
// [redisrevocation.List]: https://pkg.go.dev/github.com/cookiesession/cookiesession/redisrevocation#List
package goredisdriver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/redis/go-redis/v9"
)

// New returns a driver for client, a *redis.Client (single node or
// Sentinel) or a *redis.ClusterClient; it stays the caller's to close. A
// redis.Ring, which spreads keys over servers that do not replicate each
// other, cannot hold a list: its commands fail.
func New(client redis.UniversalClient) driver.Client { return conn{client} }

type conn struct{ c redis.UniversalClient }

func args(c driver.Command) []any {
	all := c.All()
	out := make([]any, len(all))
	for i, a := range all {
		out[i] = a
	}
	return out
}

// run queues cmds on p, runs them, and returns their replies.
func run(ctx context.Context, p redis.Pipeliner, cmds []driver.Command) []driver.Reply {
	queued := make([]*redis.Cmd, len(cmds))
	for i, c := range cmds {
		queued[i] = p.Do(ctx, args(c)...)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	out := make([]driver.Reply, len(cmds))
	for i, q := range queued {
		out[i] = reply(ctx, q)
	}
	return out
}

func reply(ctx context.Context, c *redis.Cmd) driver.Reply {
	v, err := c.Result()
	var re redis.Error
	switch {
	case errors.Is(err, redis.Nil):
		return driver.Reply{}
	case errors.As(err, &re):
		return driver.Reply{Err: driver.ErrorReply(re.Error())}
	case err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		// go-redis reads until the context's deadline and reports an
		// i/o timeout; the caller asks whether its context ended.
		return driver.Reply{Err: fmt.Errorf("%w: %w", context.Cause(ctx), err)}
	case err != nil:
		return driver.Reply{Err: err}
	}
	switch v := v.(type) {
	case string, int64:
		return driver.Reply{Value: v}
	case []any:
		s := make([]string, len(v))
		for i, e := range v {
			var ok bool
			if s[i], ok = e.(string); !ok {
				return driver.Reply{Err: fmt.Errorf("goredisdriver: an array holding %T", e)}
			}
		}
		return driver.Reply{Value: s}
	}
	return driver.Reply{Err: fmt.Errorf("goredisdriver: a reply of type %T", v)}
}

func failed(n int, err error) []driver.Reply {
	out := make([]driver.Reply, n)
	for i := range out {
		out[i].Err = err
	}
	return out
}

func (c conn) Do(ctx context.Context, cmds ...driver.Command) []driver.Reply {
	return run(ctx, c.c.Pipeline(), cmds)
}

func (c conn) Dedicated(ctx context.Context, cmds ...driver.Command) (out []driver.Reply) {
	var node interface{ Conn() *redis.Conn }
	switch cl := c.c.(type) {
	case *redis.ClusterClient:
		key := ""
		for _, c := range cmds {
			if len(c.Keys) > 0 {
				key = c.Keys[0]
				break
			}
		}
		n, err := cl.MasterForKey(ctx, key)
		if err != nil {
			cl.ReloadState(ctx)
			return failed(len(cmds), err)
		}
		node = n
		defer reloadOnFailure(ctx, cl, &out)
	case interface{ Conn() *redis.Conn }:
		node = cl
	default:
		return failed(len(cmds), fmt.Errorf("goredisdriver: a %T has no dedicated connection to one primary", c.c))
	}
	cn := node.Conn()
	defer cn.Close()
	return run(ctx, cn.Pipeline(), cmds)
}

// reloadOnFailure has a Cluster client read the slots again when a
// dedicated connection failed, as its own commands do: MasterForKey
// answers from the slots it knows, which name a dead primary after a
// failover until they are read again.
func reloadOnFailure(ctx context.Context, cl *redis.ClusterClient, out *[]driver.Reply) {
	for _, r := range *out {
		var re redis.Error
		if r.Err != nil && (!errors.As(r.Err, &re) || strings.HasPrefix(re.Error(), "MOVED") || strings.HasPrefix(re.Error(), "CLUSTERDOWN")) {
			cl.ReloadState(ctx)
			return
		}
	}
}

func (c conn) Subscribe(ctx context.Context, channel string, onMessage func(string)) (<-chan error, func(), error) {
	ps := c.c.Subscribe(ctx, channel)
	m, err := ps.Receive(ctx)
	if err == nil {
		if s, ok := m.(*redis.Subscription); !ok || s.Kind != "subscribe" {
			err = fmt.Errorf("goredisdriver: %v instead of the subscription", m)
		}
	}
	if err != nil {
		ps.Close()
		c.reload(ctx)
		return nil, nil, err
	}
	lost := make(chan error, 1)
	go func() {
		defer close(lost)
		for {
			// go-redis would subscribe again on the next Receive after
			// an error, silently: the list must know, to reload.
			m, err := ps.Receive(context.Background())
			if err != nil {
				lost <- err
				ps.Close()
				c.reload(context.Background())
				return
			}
			if m, ok := m.(*redis.Message); ok {
				onMessage(m.Payload)
			}
		}
	}()
	return lost, func() { ps.Close() }, nil
}

// reload has a Cluster client read the slots again, after its
// subscription failed: it subscribes on the primary it believes serves
// the channel's slot, and a failover may have replaced it.
func (c conn) reload(ctx context.Context) {
	if cl, ok := c.c.(*redis.ClusterClient); ok {
		cl.ReloadState(ctx)
	}
}
