package rueidisdriver_test

import (
	"context"
	"log"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/rueidisdriver"
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
	revoked, err := redisrevocation.New(ctx, rueidisdriver.New(client), redisrevocation.Options{})
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

// With Sentinel, the client asks the Sentinels for the primary and follows
// its failovers; WaitReplicas makes a failover lose no revocation that
// Revoke returned without error. The timeouts are those the failover
// figures in the README were measured with.
func ExampleNew_sentinel() {
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		Sentinel:         rueidis.SentinelOption{MasterSet: "revocations"},
		ConnWriteTimeout: 2 * time.Second,
		DisableCache:     true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, rueidisdriver.New(client), redisrevocation.Options{
		Prefix:       "shop:revocations:", // one per service sharing the Redis
		WaitReplicas: 1,                   // each primary has one replica
	})
	if err != nil {
		log.Fatal(err)
	}
	defer revoked.Close()
}

// On Redis Cluster, give the client some of the nodes' addresses: it
// finds the rest, and the slot the list's keys share.
func ExampleNew_cluster() {
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ConnWriteTimeout: 2 * time.Second,
		DisableCache:     true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, rueidisdriver.New(client), redisrevocation.Options{WaitReplicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer revoked.Close()
}
