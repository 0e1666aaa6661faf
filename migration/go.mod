module github.com/cookiesession/cookiesession/migration

go 1.25.0

replace github.com/cookiesession/cookiesession => ../

require (
	github.com/cookiesession/cookiesession v0.0.0-00010101000000-000000000000
	github.com/gorilla/securecookie v1.1.2
	github.com/gorilla/sessions v1.4.0
	github.com/stretchr/testify v1.12.1
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/sys v0.41.0 // indirect
)
