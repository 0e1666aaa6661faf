package integration

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession/redisrevocation"
	"github.com/cookiesession/cookiesession/redisrevocation/driver"
	"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/record"
	"github.com/cookiesession/cookiesession/redisrevocation/internal/redistest"
	"github.com/cookiesession/cookiesession/redisrevocation/rueidisdriver"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// The tests of package redisrevocation that need a redis-server: a module
// of their own, so that the list's module requires neither client library
// while each test here runs with both.

// defaultKeys are the names in Redis of a list under the default prefix.
var defaultKeys = record.KeysOf("")

// day is a UTC day: the list keeps its records in a string per day of expiry.
const day = record.Day

// clientKind is one client library the list runs on: the tests that need
// Redis run once with each (see eachClient).
type clientKind struct {
	name string
	// open returns a driver on a client of its own for one server, as
	// user when not empty, and what closes the client. sentinel and
	// cluster return one on a client closed with the test, for a
	// Sentinel's primary and a Cluster.
	open     func(t testing.TB, addr, user, password string) (driver.Client, func())
	sentinel func(t testing.TB, sentinel, master string) driver.Client
	cluster  func(t testing.TB, addrs []string) driver.Client
}

var clientKinds = []clientKind{
	{
		name: "rueidis",
		open: func(t testing.TB, addr, user, password string) (driver.Client, func()) {
			c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, Username: user, Password: password,
				ConnWriteTimeout: 2 * time.Second, DisableCache: true})
			require.NoError(t, err)
			return rueidisdriver.New(c), c.Close
		},
		sentinel: func(t testing.TB, sentinel, master string) driver.Client {
			return rueidisdriver.New(rueidisClient(t, rueidis.ClientOption{InitAddress: []string{sentinel}, Sentinel: rueidis.SentinelOption{MasterSet: master}}))
		},
		cluster: func(t testing.TB, addrs []string) driver.Client {
			return rueidisdriver.New(rueidisClient(t, rueidis.ClientOption{InitAddress: addrs}))
		},
	},
	{
		name: "goredis",
		open: func(_ testing.TB, addr, user, password string) (driver.Client, func()) {
			c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: password, ContextTimeoutEnabled: true})
			return goredisdriver.New(c), func() { c.Close() }
		},
		sentinel: func(t testing.TB, sentinel, master string) driver.Client {
			c := redis.NewFailoverClient(&redis.FailoverOptions{SentinelAddrs: []string{sentinel}, MasterName: master, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return goredisdriver.New(c)
		},
		cluster: func(t testing.TB, addrs []string) driver.Client {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return goredisdriver.New(c)
		},
	},
}

// quiet drops go-redis's own log lines (a line per failed dial, many in
// the outage tests): the lists' logs say what failed.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }

// rueidisClient is a rueidis client with opt, closed with the test.
func rueidisClient(t testing.TB, opt rueidis.ClientOption) rueidis.Client {
	t.Helper()
	opt.ConnWriteTimeout, opt.DisableCache = 2*time.Second, true
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// eachClient runs f as a subtest for each client library, or only for
// those REDISREVOCATION_CLIENTS names (comma-separated), when set.
func eachClient[T interface {
	testing.TB
	Run(string, func(T)) bool
}](t T, f func(t T, k clientKind)) {
	only := os.Getenv("REDISREVOCATION_CLIENTS")
	for _, k := range clientKinds {
		if only == "" || slices.Contains(strings.Split(only, ","), k.name) {
			t.Run(k.name, func(t T) { f(t, k) })
		}
	}
}

// server is a redis-server the test started, and the client library of
// the lists on it.
type server struct {
	*redistest.Server
	kind clientKind
}

// startRedis starts a redis-server for lists of kind k.
func (k clientKind) startRedis(t testing.TB, extra ...string) *server {
	t.Helper()
	return &server{redistest.Start(t, extra...), k}
}

// client returns a rueidis client of the server's, closed with the test,
// to look at and prepare what the lists under test find in Redis.
func (s *server) client(t testing.TB) rueidis.Client {
	t.Helper()
	return rueidisClient(t, rueidis.ClientOption{InitAddress: []string{s.Addr}})
}

// driver returns a driver on a client of the server's kind, closed with
// the test, logged in as user when one is given.
func (s *server) driver(t testing.TB, user, password string) driver.Client {
	t.Helper()
	d, closeClient := s.kind.open(t, s.Addr, user, password)
	t.Cleanup(closeClient)
	return d
}

// list returns a List on a client of its own, as one replica has.
func (s *server) list(t testing.TB, opts redisrevocation.Options) *redisrevocation.List {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := redisrevocation.New(ctx, s.driver(t, "", ""), opts)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}
