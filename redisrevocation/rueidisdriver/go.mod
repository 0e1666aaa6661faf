module github.com/cookiesession/cookiesession/redisrevocation/rueidisdriver

go 1.25.0

require (
	github.com/cookiesession/cookiesession v1.0.0
	github.com/cookiesession/cookiesession/redisrevocation v1.0.0
	github.com/redis/rueidis v1.0.79
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace (
	github.com/cookiesession/cookiesession => ../../
	github.com/cookiesession/cookiesession/redisrevocation => ../
)
