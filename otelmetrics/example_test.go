package otelmetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/otelmetrics"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Register the counts with an OpenTelemetry meter and give the reader the
// producer of the size histograms; here a manual reader collects them,
// where a service would use an exporter.
func ExampleRegister() {
	sessions, _ := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{[]byte("example-only-secret-0001-use-GenerateSecret")},
	})
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(otelmetrics.NewProducer(sessions)))
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	if _, err := otelmetrics.Register(provider.Meter("example.com/myservice"), sessions); err != nil {
		fmt.Println(err)
		return
	}

	app := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("seen", true)
	}))
	app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch data := md.Data.(type) {
			case metricdata.Sum[int64]:
				if md.Name == "cookiesession.cookies.written" {
					fmt.Println(md.Name, data.DataPoints[0].Value)
				}
			case metricdata.Histogram[int64]:
				fmt.Println(md.Name, data.DataPoints[0].Count)
			}
		}
	}
	// Output:
	// cookiesession.cookies.written 1
	// cookiesession.cookie.size 1
	// cookiesession.header.size 0
}
