// Command quickstart is the README's Quick start: log in (with "remember
// me"), a page that reads the session, and log out.
package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/cookiesession/cookiesession"
)

func main() {
	secrets, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	handler, err := newHandler(secrets)
	if err != nil {
		log.Fatal(err) // weak secrets and bad options are refused here
	}
	log.Fatal(http.ListenAndServe(":8080", handler))
}

func newHandler(secrets [][]byte) (http.Handler, error) {
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets: secrets,
		Name:    "__Host-session", // no other host, not even a subdomain, can set it
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Renew() // a new session ID whenever privileges change
		s.Set("user_id", 42)
		if r.FormValue("remember") == "" {
			s.SetTransient(true) // gone when the browser closes
		} else {
			s.SetTransient(false) // the choice is kept in the session: set it either way
			s.SetMaxAge(30 * 24 * time.Hour)
		}
		s.AddFlash("Welcome back!")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		id, ok := cookiesession.Value[int](s, "user_id") // an int stays an int
		for _, msg := range s.Flashes() {
			fmt.Fprintln(w, msg)
		}
		fmt.Fprintln(w, id, ok)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Destroy() // deletes every session cookie
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	// Refuses state-changing requests from other origins (CSRF): SameSite=Lax
	// does not stop those from a sibling subdomain.
	return http.NewCrossOriginProtection().Handler(sessions.Middleware(mux)), nil
}
