package goredisdriver_test

import (
	"context"
	"log"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/redis/go-redis/v9"
)

// Each replica builds its own List on its own client; they share the
// revocations through Redis.
func ExampleNew() {
	keys, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, goredisdriver.New(client), redisrevocation.Options{})
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
// Revoke returned without error. ContextTimeoutEnabled lets
// Options.Timeout bound each call, as the failover figures in the README
// were measured.
func ExampleNew_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		SentinelAddrs:         []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		MasterName:            "revocations",
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, goredisdriver.New(client), redisrevocation.Options{
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
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revoked, err := redisrevocation.New(ctx, goredisdriver.New(client), redisrevocation.Options{WaitReplicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer revoked.Close()
}
