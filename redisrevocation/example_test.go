package redisrevocation_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/redis/go-redis/v9"
)

// During an incident, State says what the shared list holds and whether
// revocations wait for Redis; cmd/cookiesession-revoke prints it too. The
// drivers' examples show the set-up of a replica with each client.
func ExampleList_State() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, goredisdriver.New(client), redisrevocation.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer revoked.Close()
	state, err := revoked.State(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", state)
}
