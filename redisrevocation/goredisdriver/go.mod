module github.com/cookiesession/cookiesession/redisrevocation/goredisdriver

go 1.25.0

require (
	github.com/cookiesession/cookiesession v1.0.0
	github.com/cookiesession/cookiesession/redisrevocation v1.0.0
	github.com/redis/go-redis/v9 v9.22.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace (
	github.com/cookiesession/cookiesession => ../../
	github.com/cookiesession/cookiesession/redisrevocation => ../
)
