package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyNew = []byte("lambda-example-key-0002-use-GenerateSecret-instead")
	keyOld = []byte("lambda-example-key-0001-use-GenerateSecret-instead")
)

// client plays API Gateway and the browser: it keeps the cookies the
// function sets and sends them back in the next event.
type client struct {
	t       *testing.T
	app     *app
	cookies map[string]string
}

func (c *client) do(method, path, body string) events.APIGatewayV2HTTPResponse {
	c.t.Helper()
	req := events.APIGatewayV2HTTPRequest{RawPath: path, Body: body}
	req.RequestContext.HTTP.Method = method
	for name, value := range c.cookies {
		req.Cookies = append(req.Cookies, name+"="+value)
	}
	resp, err := c.app.handle(context.Background(), req)
	require.NoError(c.t, err)
	for _, line := range resp.Cookies {
		ck, err := http.ParseSetCookie(line)
		require.NoError(c.t, err)
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return resp
}

func newClient(t *testing.T, keys ...[]byte) *client {
	a, err := newApp(cookiesession.Options{Secrets: keys, Name: "__Host-session"})
	require.NoError(t, err)
	return &client{t, a, map[string]string{}}
}

func TestLoginReadLogout(t *testing.T) {
	c := newClient(t, keyNew)
	resp := c.do("POST", "/login", "")
	assert.Equal(t, "hello ada", resp.Body)
	require.Len(t, resp.Cookies, 1)
	for _, attr := range []string{"__Host-session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		assert.Contains(t, resp.Cookies[0], attr)
	}
	assert.Equal(t, "user=ada visits=1", c.do("GET", "/", "").Body)
	assert.Equal(t, "user=ada visits=2", c.do("GET", "/", "").Body)
	assert.Equal(t, "Cookie", resp.Headers["Vary"])

	resp = c.do("POST", "/logout", "")
	require.Len(t, resp.Cookies, 1)
	assert.Contains(t, resp.Cookies[0], "Max-Age=0")
	assert.Empty(t, c.cookies)
	assert.Equal(t, "user= visits=1", c.do("GET", "/", "").Body)
}

// TestRotation: a cookie sealed with the old key is read by a function
// with [new, old] and re-issued with the new one, as over HTTP.
func TestRotation(t *testing.T) {
	old := newClient(t, keyOld)
	old.do("POST", "/login", "")
	rotated := &client{t, newClient(t, keyNew, keyOld).app, old.cookies}
	resp := rotated.do("GET", "/", "")
	assert.Equal(t, "user=ada visits=1", resp.Body)
	require.Len(t, resp.Cookies, 1)

	onlyNew := &client{t, newClient(t, keyNew).app, rotated.cookies}
	assert.Equal(t, "user=ada visits=2", onlyNew.do("GET", "/", "").Body, "re-issued with the new key")
}

// TestTooLarge: a session that does not fit is a 413 with the sizes, and
// no cookie the browser would drop.
func TestTooLarge(t *testing.T) {
	c := newClient(t, keyNew)
	c.do("POST", "/login", "")
	resp := c.do("POST", "/note", strings.Repeat("x", 5000))
	assert.Equal(t, 413, resp.StatusCode)
	assert.Contains(t, resp.Body, "encoded session is")
	assert.Empty(t, resp.Cookies)
	assert.Equal(t, "user=ada visits=1", c.do("GET", "/", "").Body, "the stored session is unchanged")
}
