// Command metricsexample serves a visit counter in a cookie session and
// the session counts on /metrics, through OpenTelemetry's Prometheus
// exporter. The otelmetrics README and docs/operations.md show it whole.
package main

import (
	"fmt"
	"log"
	"net/http"

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
	handler, err := newHandler(secrets)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", handler))
}

func newHandler(secrets [][]byte) (http.Handler, error) {
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: secrets})
	if err != nil {
		return nil, err
	}
	// The exporter is a reader of the SDK's meter provider; Prometheus
	// scrapes what it registers.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	if _, err := otelmetrics.Register(provider.Meter("example.com/visits"), sessions, "session"); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		visits, _ := cookiesession.Value[int](s, "visits")
		s.Set("visits", visits+1)
		fmt.Fprintln(w, visits+1)
	})
	return sessions.Middleware(mux), nil
}
