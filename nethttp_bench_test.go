//go:build unix

package cookiesession

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkNetHTTP measures what the session adds to a real net/http
// server. Each variant's server runs in a process of its own (this test
// binary, started again with benchServerEnv set) and gets requests over
// one keep-alive loopback connection; one op is one request to each
// server in turn, so that the machine's drift during the run weighs on all
// of them alike. It reports each server's CPU time (user + system, from
// getrusage) per request, the wall time spent inside its handler (where
// the middleware does all of the session's work; net/http writes the
// header after it), and the other variants' overhead over "bare",
// the same handler without the middleware, in percent. Every server
// receives the same typical session cookie. "headers" is the bare handler
// setting the three response headers the middleware adds (Vary,
// Set-Cookie with the typical session, Cache-Control) by hand: what
// net/http itself spends on them, which any session middleware would cost.
func BenchmarkNetHTTP(b *testing.B) {
	variants := []string{"bare", "headers", "compact", "securecookie"}
	servers := make([]*benchServer, len(variants))
	for i, variant := range variants {
		servers[i] = startBenchServer(b, variant)
		for range 2000 { // connection, caches and heap warmed up
			servers[i].get(b, "/")
		}
		if got := servers[i].get(b, "/"); got != "ok 4" { // the sessions hold cart_count 3
			b.Fatalf("%s server answers %q, not %q", variant, got, "ok 4")
		}
	}
	cpuBefore, handlerBefore := make([]time.Duration, len(servers)), make([]time.Duration, len(servers))
	for i, s := range servers {
		cpuBefore[i], handlerBefore[i] = s.times(b)
	}
	n := 0
	for b.Loop() {
		for _, s := range servers {
			s.get(b, "/")
		}
		n++
	}
	perRequest := make([]float64, len(servers))
	for i, s := range servers {
		cpu, handler := s.times(b)
		perRequest[i] = float64(cpu-cpuBefore[i]) / float64(n)
		b.ReportMetric(perRequest[i], variants[i]+"-server-ns/req")
		b.ReportMetric(float64(handler-handlerBefore[i])/float64(n), variants[i]+"-handler-ns/req")
	}
	for i := 1; i < len(variants); i++ {
		b.ReportMetric(100*(perRequest[i]-perRequest[0])/perRequest[0], variants[i]+"-overhead-%")
	}
}

// benchServer is a server process of BenchmarkNetHTTP and its client.
type benchServer struct {
	base, cookie string
	client       *http.Client
}

func (s *benchServer) get(b *testing.B, path string) string {
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.Header.Set("Cookie", s.cookie)
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s %v", path, resp.StatusCode, body, err)
	}
	return string(body)
}

// times returns the CPU time the server process has used so far, and the
// time its handler has taken.
func (s *benchServer) times(b *testing.B) (cpu, handler time.Duration) {
	if _, err := fmt.Sscan(s.get(b, "/times"), &cpu, &handler); err != nil {
		b.Fatal(err)
	}
	return cpu, handler
}

// benchServerEnv names the variant a child process serves.
const benchServerEnv = "COOKIESESSION_BENCH_SERVER"

func TestMain(m *testing.M) {
	if variant := os.Getenv(benchServerEnv); variant != "" {
		serveBench(variant)
		return
	}
	os.Exit(m.Run())
}

// benchManager is the manager of a session variant, with the key both
// processes know.
func benchManager(variant string) *Manager {
	f := FormatCompact
	if variant == "securecookie" {
		f = FormatSecureCookie
	}
	m, err := New(Options{Secrets: [][]byte{testKey(1)}, Format: f})
	if err != nil {
		panic(err)
	}
	return m
}

// startBenchServer starts the server process of variant, with a client
// that sends the Cookie header of a typical session it accepts.
func startBenchServer(b *testing.B, variant string) *benchServer {
	cookie, _, _ := strings.Cut(typicalSetCookie(variant), ";")

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchServerEnv+"="+variant)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	// The child exits when its standard input closes: when this process
	// ends, however it ends.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal("bench server: ", err)
	}
	return &benchServer{
		base:   "http://" + strings.TrimSpace(addr),
		cookie: cookie,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
	}
}

// typicalSetCookie is the Set-Cookie line of a typical session in the
// variant's format (the compact one for "bare" and "headers").
func typicalSetCookie(variant string) string {
	m := benchManager(variant)
	s := m.LoadHeader()
	setAll(s, typicalValues())
	lines, err := m.SaveHeader(s)
	if err != nil {
		panic(err)
	}
	return lines[0]
}

// serveBench is the child process: it serves the variant's handler on a
// loopback port, printed on stdout, and its CPU and handler times on
// /times.
func serveBench(variant string) {
	var h http.Handler
	switch variant {
	case "bare":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %d", 4)
		})
	case "headers":
		line := typicalSetCookie(variant)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Cookie")
			w.Header().Add("Set-Cookie", line)
			w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
			fmt.Fprintf(w, "ok %d", 4)
		})
	default:
		m := benchManager(variant)
		h = m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.FromContext(r.Context())
			n, _ := Value[int](s, "cart_count")
			s.Set("cart_count", n+1)
			fmt.Fprintf(w, "ok %d", n+1)
		}))
	}
	var inHandler atomic.Int64 // nanoseconds
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		inHandler.Add(int64(time.Since(start)))
	})
	mux.HandleFunc("/times", func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d %d", ru.Utime.Nano()+ru.Stime.Nano(), inHandler.Load())
	})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}
