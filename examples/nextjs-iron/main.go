// Command nextjs-iron is a Go service sharing one login with a Node
// application that keeps it in an iron-session cookie, as many Next.js
// apps do, behind one origin: paths under /go/ are the Go service's, all
// others the Node app's (node/server.js), routed by a reverse proxy. It is
// the shape of a migration that moves routes to Go one at a time.
//
//	cd node && npm ci && cd ..
//	SESSION_PASSWORD=$(openssl rand -base64 32) go run .
//
// Then sign in on the Node side (/login?name=Ada), read and change the
// session on the Go side (/go/profile, /go/rename?name=Grace), and see the
// change on the Node side (/profile).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/iron"
)

// newManager reads and writes the Node app's session cookie: the same
// cookie name, password and lifetime as sessionOptions in node/server.js.
func newManager(password string) (*cookiesession.Manager, error) {
	return cookiesession.New(cookiesession.Options{
		Format:  iron.Format{},
		Name:    "app_session",              // iron-session's cookieName
		Secrets: [][]byte{[]byte(password)}, // iron-session's password
		MaxAge:  14 * 24 * time.Hour,        // iron-session's ttl
	})
}

// user is what the Node app keeps under "user".
type user struct {
	Name string `json:"name"`
}

// goService is the part of the site already moved to Go.
func goService(m *cookiesession.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /go/profile", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		u, ok := cookiesession.Value[user](s, "user")
		if !ok {
			page(w, "Go: not signed in")
			return
		}
		visits, _ := cookiesession.Value[int](s, "visits")
		page(w, fmt.Sprintf("Go: %s, %d visits", u.Name, visits))
	})
	mux.HandleFunc("GET /go/rename", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if _, ok := cookiesession.Value[user](s, "user"); !ok {
			http.Error(w, "Go: not signed in", http.StatusUnauthorized)
			return
		}
		name := r.URL.Query().Get("name")
		s.Set("user", user{Name: name})
		page(w, "Go: renamed to "+name)
	})
	return m.Middleware(mux)
}

func page(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Go</title><p id="out">%s</p>`, html.EscapeString(text))
}

// site routes /go/ to the Go service and every other path to the Node
// app, so that the browser sees one origin and sends the session cookie to
// both.
func site(node *url.URL, goHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/go/", goHandler)
	mux.Handle("/", httputil.NewSingleHostReverseProxy(node))
	return mux
}

// startNode runs node/server.js with the password and returns its address
// and the command, to stop it.
func startNode(dir, password string) (*url.URL, *exec.Cmd, error) {
	cmd := exec.Command("node", "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SESSION_PASSWORD="+password)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, fmt.Errorf("the Node app did not start: %w", err)
	}
	return &url.URL{Scheme: "http", Host: "127.0.0.1:" + strings.TrimSpace(port)}, cmd, nil
}

func main() {
	password := os.Getenv("SESSION_PASSWORD")
	m, err := newManager(password)
	if err != nil {
		log.Fatal(err)
	}
	node, cmd, err := startNode("node", password)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "localhost:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: site(node, goService(m)), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}
