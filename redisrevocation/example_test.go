package redisrevocation_test

import (
	"context"
	"log"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/redis/rueidis"
)

// Each replica builds its own List on its own client; they share the
// revocations through Redis.
func ExampleNew() {
	keys, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, client, redisrevocation.Options{})
	if err != nil {
		log.Fatal(err) // not loaded: this replica would miss revocations
	}
	defer revoked.Close()
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: keys, Revocations: revoked})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions // sessions.Middleware(mux), as usual
}
