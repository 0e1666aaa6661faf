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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkNetHTTP measures what the session adds to a real net/http
// server: the server runs in a process of its own (this test binary,
// started again with benchServerEnv set), a client sends it b.N requests
// over one keep-alive loopback connection, and the server's CPU time
// (user + system, from getrusage) is reported per request as
// server-ns/req. Every variant receives the same typical session cookie;
// "bare" is the handler without the middleware. The overhead is the
// difference between a session variant and bare, divided by bare.
func BenchmarkNetHTTP(b *testing.B) {
	for _, variant := range []string{"bare", "compact", "securecookie"} {
		b.Run(variant, func(b *testing.B) {
			base, cookie := startBenchServer(b, variant)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			get := func(path string) string {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("Cookie", cookie)
				resp, err := client.Do(req)
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
			cpu := func() time.Duration {
				ns, err := strconv.ParseInt(get("/cpu"), 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				return time.Duration(ns)
			}
			for range 2000 { // connection, caches and heap warmed up
				get("/")
			}
			if variant != "bare" && get("/") != "ok 4" { // cart_count was 3
				b.Fatal("the server did not read the session")
			}
			before := cpu()
			n := 0
			for b.Loop() {
				get("/")
				n++
			}
			b.ReportMetric(float64(cpu()-before)/float64(n), "server-ns/req")
		})
	}
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
	m, err := New(Options{Keys: [][]byte{testKey(1)}, Format: f})
	if err != nil {
		panic(err)
	}
	return m
}

// startBenchServer starts the server process of variant and returns its
// address and the Cookie header of a typical session it accepts.
func startBenchServer(b *testing.B, variant string) (base, cookie string) {
	m := benchManager(variant)
	if variant == "bare" {
		m = benchManager("compact")
	}
	s := m.LoadHeader()
	setAll(s, typicalValues())
	lines, err := m.SaveHeader(s)
	if err != nil {
		b.Fatal(err)
	}
	cookie, _, _ = strings.Cut(lines[0], ";")

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
	return "http://" + strings.TrimSpace(addr), cookie
}

// serveBench is the child process: it serves the variant's handler on a
// loopback port, printed on stdout, and its own CPU time on /cpu.
func serveBench(variant string) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	if variant != "bare" {
		m := benchManager(variant)
		h = m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.FromContext(r.Context())
			n, _ := Value[int](s, "cart_count")
			s.Set("cart_count", n+1)
			fmt.Fprintf(w, "ok %d", n+1)
		}))
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, ru.Utime.Nano()+ru.Stime.Nano())
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
