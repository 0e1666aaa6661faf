package promcollector_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/promcollector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// A service's sessions on its public listener, and their metrics and
// rotation status on an internal one, with prometheus/client_golang.
func Example() {
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{[]byte("example-only-secret-0001-use-GenerateSecret")}, // from SecretsFromEnv in a service
		MaxAge:  30 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(promcollector.New(sessions))

	app := http.NewServeMux()
	app.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("seen", true)
	})
	public := sessions.Middleware(app)

	admin := http.NewServeMux() // never on the public listener
	admin.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	admin.Handle("GET /cookiesession", sessions.StatusHandler(30*24*time.Hour))
	// go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", admin)) }()
	// log.Fatal(http.ListenAndServe(":8080", public))

	public.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	metrics := httptest.NewRecorder()
	admin.ServeHTTP(metrics, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(metrics.Body.String(), "\n") {
		if strings.HasPrefix(line, "cookiesession_session_writes_total") || strings.HasPrefix(line, "cookiesession_cookie_size_bytes_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// cookiesession_cookie_size_bytes_count{cookie_name="session"} 1
	// cookiesession_session_writes_total{cookie_name="session",outcome="deleted"} 0
	// cookiesession_session_writes_total{cookie_name="session",outcome="failed"} 0
	// cookiesession_session_writes_total{cookie_name="session",outcome="too_large"} 0
	// cookiesession_session_writes_total{cookie_name="session",outcome="unchanged"} 0
	// cookiesession_session_writes_total{cookie_name="session",outcome="written"} 1
}
