module github.com/cookiesession/cookiesession/redisrevocation

go 1.25.0

require (
	github.com/cookiesession/cookiesession v1.0.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/cookiesession/cookiesession => ../
