// Command metricsexample serves a visit counter in a cookie session on
// :8080, and on an internal address the session counts for Prometheus,
// through prometheus/client_golang, with the rotation status beside them.
// docs/operations.md shows it whole.
package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/promcollector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	secrets, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	public, admin, err := newHandlers(secrets)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", admin)) }() // never public
	log.Fatal(http.ListenAndServe(":8080", public))
}

// newHandlers returns the application's handler and the internal one
// with /metrics and the rotation status.
func newHandlers(secrets [][]byte) (public, admin http.Handler, err error) {
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: secrets, MaxAge: 30 * 24 * time.Hour})
	if err != nil {
		return nil, nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(sessions))
	// With the shared revocation list (redisrevocation), its revocations
	// not yet in Redis too:
	// registry.MustRegister(promcollector.NewPending(list.Pending))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		visits, _ := cookiesession.Value[int](s, "visits")
		s.Set("visits", visits+1)
		fmt.Fprintln(w, visits+1)
	})
	internal := http.NewServeMux()
	internal.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	internal.Handle("GET /cookiesession", sessions.StatusHandler(30*24*time.Hour))
	return sessions.Middleware(mux), internal, nil
}
