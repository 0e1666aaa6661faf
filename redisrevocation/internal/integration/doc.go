// Package integration holds the tests of package redisrevocation that need
// a redis-server: each runs once with rueidis and once with go-redis,
// through their drivers. It is a module of its own, never published, so
// that the list's module requires neither client library and a service on
// one client never has the other in its module graph.
package integration
