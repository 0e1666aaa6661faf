// Package driver names what a [redisrevocation.List] needs of a Redis
// client, so that the list works with any client without depending on
// one: a service that uses github.com/redis/go-redis/v9 does not pull
// github.com/redis/rueidis into its build, nor the other way round.
//
// The list builds every command itself; a driver only carries them, in
// a pipeline, on a dedicated connection, or as a subscription. So a
// driver is small, and every client runs exactly the same commands.
// Two are maintained beside this module, each a module of its own:
// github.com/cookiesession/cookiesession/redisrevocation/rueidisdriver
// and github.com/cookiesession/cookiesession/redisrevocation/goredisdriver.
// This package is separate from redisrevocation itself so that those
// drivers need not import the list they serve.
//
// [redisrevocation.List]: https://pkg.go.dev/github.com/cookiesession/cookiesession/redisrevocation#List
package driver

import "context"

// Client is what the list needs of a Redis client. Its methods are safe
// for concurrent use.
type Client interface {
	// Do sends cmds in one pipeline and returns one reply per command,
	// in order. In a Redis Cluster each command goes to the node that
	// serves its keys; one without keys may go to any node.
	Do(ctx context.Context, cmds ...Command) []Reply

	// Dedicated is Do on one connection that no other caller uses
	// meanwhile, to the primary that serves the commands' keys (they
	// share a slot): Redis's WAIT counts the replicas that have the
	// writes of its own connection, so it must follow them there.
	Dedicated(ctx context.Context, cmds ...Command) []Reply

	// Subscribe subscribes to channel on a connection of its own, and
	// returns once Redis confirmed it. Then it calls onMessage with each
	// message, in order, from one goroutine, until the subscription
	// ends: when the connection is lost, or a failover moves the
	// channel, lost receives why and is closed, and the list subscribes
	// again (and reloads what it may have missed). It does not
	// resubscribe by itself: a silent resubscription would hide a gap.
	// close ends the subscription; lost is closed then too.
	Subscribe(ctx context.Context, channel string, onMessage func(string)) (lost <-chan error, close func(), err error)
}

// Command is one Redis command: Name, then Keys, then Args, on the wire.
// Keys are apart so that a client routes the command in a Cluster.
type Command struct {
	Name []string // the command, and any word before its keys: "EVAL", the script, the number of keys
	Keys []string
	Args []string
}

// All returns the whole command, as sent.
func (c Command) All() []string {
	all := make([]string, 0, len(c.Name)+len(c.Keys)+len(c.Args))
	all = append(all, c.Name...)
	all = append(all, c.Keys...)
	return append(all, c.Args...)
}

// Reply is Redis's answer to a command.
type Reply struct {
	// Value is a string, an int64, a []string (an array of strings), or
	// nil (Redis's nil).
	Value any
	// Err is an [ErrorReply] when Redis answered with an error, and any
	// other error when the command got no answer (Redis unreachable, the
	// context ended).
	Err error
}

// ErrorReply is an error Redis answered with, as "WRONGTYPE ...": the
// list tells it from a failure to reach Redis, since writing again
// mends the second and not the first.
type ErrorReply string

// Error returns the reply as Redis sent it.
func (e ErrorReply) Error() string { return string(e) }
