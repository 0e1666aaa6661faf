// Package localjar is a cookie jar for tests that talk to a server on
// http://127.0.0.1: it sends Secure cookies back, as browsers and Go
// 1.26's net/http/cookiejar do for loopback hosts; Go 1.25's, the oldest
// the modules support, does not.
package localjar

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
)

// Jar is a net/http/cookiejar.Jar that takes every http URL as https.
type Jar struct{ jar *cookiejar.Jar }

// New returns an empty Jar.
func New() Jar {
	jar, _ := cookiejar.New(nil) // nil options cannot fail
	return Jar{jar}
}

// SetCookies stores cookies as set by u.
func (j Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.jar.SetCookies(asHTTPS(u), cookies)
}

// Cookies returns the cookies to send to u.
func (j Jar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(asHTTPS(u)) }

func asHTTPS(u *url.URL) *url.URL {
	s := *u
	if s.Scheme == "http" {
		s.Scheme = "https"
	}
	return &s
}
