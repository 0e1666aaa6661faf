// Command websocket upgrades a connection to a WebSocket and changes the
// session on the way. The upgrader writes the 101 response itself and
// never sends the handler's header, so the session's Set-Cookie lines
// are handed to it: the response header argument of Upgrade.
package main

import (
	"log"
	"net/http"

	"github.com/cookiesession/cookiesession"
	"github.com/gorilla/websocket"
)

func main() {
	keys, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
	if err != nil {
		log.Fatal(err)
	}
	handler, err := newHandler(keys)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", handler))
}

func newHandler(keys [][]byte) (http.Handler, error) {
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: keys})
	if err != nil {
		return nil, err
	}
	upgrader := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := cookiesession.Value[int](s, "connections")
		s.Set("connections", n+1)
		// The upgrade response carries the session: save it first.
		lines, err := sessions.SaveHeader(s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		conn, err := upgrader.Upgrade(w, r, http.Header{"Set-Cookie": lines})
		if err != nil {
			return // Upgrade has answered
		}
		defer conn.Close()
		_ = conn.WriteJSON(map[string]int{"connections": n + 1})
	})
	return sessions.Middleware(mux), nil
}
