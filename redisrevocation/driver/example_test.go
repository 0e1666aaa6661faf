package driver_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/cookiesession/cookiesession/redisrevocation/driver"
)

// slowCalls wraps the driver of a service's client, to log the list's
// round trips to Redis that take longer than a limit. The list sees only
// a driver.Client, so it takes the wrapper as it would the driver:
// redisrevocation.New(ctx, slowCalls{Client: rueidisdriver.New(c), ...}, opts).
type slowCalls struct {
	driver.Client
	limit time.Duration
	log   *slog.Logger
}

func (s slowCalls) Do(ctx context.Context, cmds ...driver.Command) []driver.Reply {
	start := time.Now()
	replies := s.Client.Do(ctx, cmds...)
	if took := time.Since(start); took > s.limit {
		s.log.Warn("slow round trip to Redis", "commands", len(cmds), "first", cmds[0].Name[0], "took", took)
	}
	return replies
}

// A driver is an interface value, so a service can wrap the one it hands
// the list: here, to log slow round trips.
func Example() {
	var client driver.Client // rueidisdriver.New(c) or goredisdriver.New(c)
	client = slowCalls{Client: client, limit: 50 * time.Millisecond, log: slog.Default()}
	_ = client // redisrevocation.New(ctx, client, options)
}
