package driver_test

import (
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/redis/go-redis/v9"
)

// A service hands the list the driver of the client it already has; the
// list sees only a Client.
func Example() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}, ContextTimeoutEnabled: true})
	defer rdb.Close()
	var client driver.Client = goredisdriver.New(rdb)
	_ = client // redisrevocation.New(ctx, client, options)
}
