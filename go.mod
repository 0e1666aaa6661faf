module github.com/cookiesession/cookiesession

go 1.25.0

require (
	github.com/gorilla/securecookie v1.1.2
	github.com/stretchr/testify v1.12.1
	golang.org/x/crypto v0.48.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.41.0 // indirect
)
