// Command logoutlimit bounds what logouts cost a revocation list: each
// logout of a session the list does not hold yet is an entry kept 400
// days, so a client that logs in and out in a loop would grow the list
// without end. A limiter on the logout route (golang.org/x/time/rate)
// bounds how many entries a day the route can add.
package main

import (
	"log"
	"net/http"

	"github.com/cookiesession/cookiesession"
	"golang.org/x/time/rate"
)

func main() {
	secrets, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	// One replica; several share a redisrevocation.List instead.
	handler, err := newHandler(secrets, cookiesession.NewMemoryRevocations(), 20, 100)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", handler))
}

// newHandler serves a login and a logout; logouts are limited to
// perSecond across the route, in bursts of up to burst.
func newHandler(secrets [][]byte, revocations cookiesession.RevocationList, perSecond rate.Limit, burst int) (http.Handler, error) {
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: secrets, Revocations: revocations})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Renew()
		s.Set("user_id", 42)
	})
	// Every logout of a fresh session is an entry kept 400 days: at most
	// perSecond × 86,400 a day, whatever clients send.
	logouts := rate.NewLimiter(perSecond, burst)
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if !logouts.Allow() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many logouts; try again in a moment", http.StatusTooManyRequests)
			return
		}
		s := sessions.FromContext(r.Context())
		if err := sessions.RevokeSession(r.Context(), s); err != nil {
			log.Print(err) // in force here; a shared list retries
		}
	})
	return sessions.Middleware(mux), nil
}
