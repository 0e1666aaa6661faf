// Command otelprometheus serves a visit counter in a cookie session on
// :8080, and on an internal address the session counts for Prometheus,
// through OpenTelemetry and its Prometheus exporter, with the rotation
// status beside them. It is a module of its own, so that otelmetrics
// needs no prometheus/client_golang; docs/operations.md shows it whole.
package main

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/otelmetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
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
	// The exporter is a reader of the SDK's meter provider, and Prometheus
	// scrapes what it registers; the producer gives it the size histograms.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo(),
		otelprom.WithProducer(otelmetrics.NewProducer(sessions)))
	if err != nil {
		return nil, nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	if _, err := otelmetrics.Register(provider.Meter("example.com/visits"), sessions); err != nil {
		return nil, nil, err
	}

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
