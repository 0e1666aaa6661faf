// Package rueidisdriver lets a [redisrevocation.List] share revocations
// through a github.com/redis/rueidis client: a single Redis, Sentinel or
// Cluster, whatever the client was made for.
//
//	list, err := redisrevocation.New(ctx, rueidisdriver.New(client), redisrevocation.Options{})
//
// It is a module of its own so that a service using go-redis instead
// never builds rueidis.
//
// [redisrevocation.List]: https://pkg.go.dev/github.com/cookiesession/cookiesession/redisrevocation#List
package rueidisdriver

import (
	"context"
	"errors"

	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/redis/rueidis"
)

// New returns a driver for client, which stays the caller's to close.
func New(client rueidis.Client) driver.Client { return conn{client} }

type conn struct{ c rueidis.Client }

func build(b rueidis.Builder, cmds []driver.Command) rueidis.Commands {
	out := make(rueidis.Commands, len(cmds))
	for i, c := range cmds {
		if len(c.Keys) == 0 {
			out[i] = b.Arbitrary(c.Name...).Args(c.Args...).Build()
		} else {
			out[i] = b.Arbitrary(c.Name...).Keys(c.Keys...).Args(c.Args...).Build()
		}
	}
	return out
}

func replies(res []rueidis.RedisResult) []driver.Reply {
	out := make([]driver.Reply, len(res))
	for i, r := range res {
		out[i] = reply(r)
	}
	return out
}

func reply(r rueidis.RedisResult) driver.Reply {
	m, err := r.ToMessage()
	var re *rueidis.RedisError
	switch {
	case rueidis.IsRedisNil(err):
		return driver.Reply{}
	case errors.As(err, &re):
		return driver.Reply{Err: driver.ErrorReply(re.Error())}
	case err != nil:
		return driver.Reply{Err: err}
	case m.IsInt64():
		n, err := m.AsInt64()
		return driver.Reply{Value: n, Err: err}
	case m.IsArray():
		s, err := m.AsStrSlice()
		return driver.Reply{Value: s, Err: err}
	}
	s, err := m.ToString() // a string, or INFO's verbatim one
	return driver.Reply{Value: s, Err: err}
}

func (c conn) Do(ctx context.Context, cmds ...driver.Command) []driver.Reply {
	return replies(c.c.DoMulti(ctx, build(c.c.B(), cmds)...))
}

func (c conn) Dedicated(ctx context.Context, cmds ...driver.Command) (out []driver.Reply) {
	_ = c.c.Dedicated(func(d rueidis.DedicatedClient) error {
		out = replies(d.DoMulti(ctx, build(d.B(), cmds)...))
		return nil
	})
	return out
}

func (c conn) Subscribe(ctx context.Context, channel string, onMessage func(string)) (<-chan error, func(), error) {
	d, release := c.c.Dedicate()
	subscribed := make(chan struct{}, 1)
	hooks := d.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) { onMessage(m.Message) },
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
		},
	})
	lost := make(chan error, 1)
	if err := d.Do(ctx, d.B().Subscribe().Channel(channel).Build()).Error(); err != nil {
		release()
		return nil, nil, err
	}
	select {
	case <-subscribed:
	case err := <-hooks:
		release()
		return nil, nil, errOr(err)
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	go func() {
		// hooks yields once the connection is lost or released, then is closed.
		lost <- errOr(<-hooks)
		close(lost)
	}()
	return lost, func() {
		d.SetPubSubHooks(rueidis.PubSubHooks{}) // closes hooks, ending the goroutine
		release()
	}, nil
}

var errLost = errors.New("rueidisdriver: subscription ended")

func errOr(err error) error {
	if err == nil {
		return errLost
	}
	return err
}
