package redisrevocation_test

import (
	"encoding/json"
	"log"
	"net/http"

	"github.com/cookiesession/cookiesession/redisrevocation"
)

// During an incident, State says what the shared list holds and whether
// revocations wait for Redis; cmd/cookiesession-revoke prints it too.
// Serve it on an internal port, not the public mux: it costs a full load.
// The drivers' examples show how each replica makes its List, on rueidis
// or go-redis.
func ExampleList_State() {
	var revoked *redisrevocation.List // from redisrevocation.New
	admin := http.NewServeMux()
	admin.HandleFunc("GET /revocations", func(w http.ResponseWriter, r *http.Request) {
		state, err := revoked.State(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(state)
	})
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", admin)) }()
}
