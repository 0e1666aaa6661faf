// Command lambda is an AWS Lambda function that keeps its session in
// cookies. Lambda runs no net/http server, so it uses the header-level API:
// the event's cookies go to LoadHeader, and SaveHeader's Set-Cookie values
// go to the response's cookies. The events are those of an API Gateway
// HTTP API (payload format 2.0); a function URL sends the same shape
// (events.LambdaFunctionURLRequest has the same Cookies field).
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/cookiesession/cookiesession"
)

func main() {
	keys, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	app, err := newApp(cookiesession.Options{Secrets: keys, Name: "__Host-session"})
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(app.handle)
}

// app is the function: log in, a visit counter, a note, log out.
type app struct{ sessions *cookiesession.Manager }

func newApp(opts cookiesession.Options) (*app, error) {
	m, err := cookiesession.New(opts)
	if err != nil {
		return nil, err
	}
	return &app{m}, nil
}

func (a *app) handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	// API Gateway splits the Cookie header into one "name=value" per cookie.
	s := a.sessions.LoadHeader(strings.Join(req.Cookies, "; "))
	status, body := 200, ""
	switch req.RequestContext.HTTP.Method + " " + req.RawPath {
	case "POST /login":
		user := cmp.Or(req.QueryStringParameters["user"], "ada")
		s.Renew()
		s.SetSubject(user)
		s.Set("user", user)
		body = "hello " + user
	case "GET /":
		user, _ := cookiesession.Value[string](s, "user")
		visits, _ := cookiesession.Value[int](s, "visits")
		s.Set("visits", visits+1)
		body = fmt.Sprintf("user=%s visits=%d", user, visits+1)
	case "POST /note":
		s.Set("note", req.Body)
		body = "stored"
	case "POST /logout":
		s.Destroy()
		body = "bye"
	default:
		status, body = 404, "not found"
	}
	cookies, err := a.sessions.SaveHeader(s)
	switch {
	case errors.Is(err, cookiesession.ErrTooLarge):
		return textResponse(413, err.Error(), nil), nil
	case err != nil:
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return textResponse(status, body, cookies), nil
}

func textResponse(status int, body string, cookies []string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		// The response depends on the cookie: shared caches must not serve
		// it to anyone else.
		Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Vary": "Cookie"},
		Body:    body,
		Cookies: cookies,
	}
}
