//go:build linux

// Command compare runs the end-to-end comparison of cookie sessions and
// server-side stores: each implementation a real HTTP server in a process
// of its own, loaded over HTTP/1.1 keep-alive connections by virtual
// clients with their own cookie jars, as the session grows and the store
// (a real redis-server and a throw-away PostgreSQL cluster) moves away
// behind a delay proxy; then the bytes a browser's request costs on the
// wire, counted over TLS with HTTP/1.1 and HTTP/2. It writes a markdown
// report, the figures as JSON, and SVG charts with the crossovers marked.
//
//	go run ./compare          # about 10 minutes, into results/
//	go run ./compare -quick   # under 2 minutes, into a temporary directory
//
// scripts/compare.sh at the repository's root runs it. Everything it
// starts it stops, by PID; a child it started dies with it in any case.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			slog.Error("serve", "err", err)
			os.Exit(1)
		}
		return
	}
	quick := flag.Bool("quick", false, "the quick mode: fewer sizes and distances, shorter phases")
	out := flag.String("out", "", "the directory for the results (default: results/ in full mode, a temporary directory in quick mode)")
	pin := flag.Bool("pin", true, "run the servers on CPU 0 and everything else on CPU 1, with taskset")
	tag := flag.String("tag", "", "a word for the results' file names, after the date: compare-DATE-TAG.md")
	flag.Parse()
	if err := pinSelf(*pin); err != nil {
		slog.Error("pinning", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *quick, *out, *tag, *pin); err != nil {
		slog.Error("compare", "err", err)
		stop()
		os.Exit(1)
	}
}

// pinnedEnv marks the process as already started again under taskset.
const pinnedEnv = "COMPARE_PINNED"

// pinSelf starts this process again under taskset on CPU 1, in its place
// (same PID), so that the load, the delay proxies and the stores it starts
// stay off the servers' CPU 0. A machine with one CPU, or without taskset,
// runs unpinned.
func pinSelf(pin bool) error {
	if !pin || runtime.NumCPU() < 2 || os.Getenv(pinnedEnv) != "" {
		return nil
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		slog.Warn("taskset not found: running unpinned")
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(taskset, append([]string{"taskset", "-c", "1", self}, os.Args[1:]...), append(os.Environ(), pinnedEnv+"=1"))
}

func run(ctx context.Context, quick bool, out, tag string, pin bool) error {
	p, mode := fullPlan, "full"
	if quick {
		p, mode = quickPlan, "quick"
	}
	serverCPU, pinning := -1, "Not pinned."
	if pin && os.Getenv(pinnedEnv) != "" {
		serverCPU = 0
		pinning = "Pinned with taskset: each server process on CPU 0 (so Go runs it with GOMAXPROCS 1); the load generator, the delay proxies, Redis and PostgreSQL on CPU 1."
	}
	if out == "" {
		out = "results"
		if quick {
			tmp, err := os.MkdirTemp("", "compare-quick-")
			if err != nil {
				return err
			}
			out = tmp
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	date := time.Now().UTC().Format("2006-01-02")
	res := &results{
		Date: date, Mode: mode,
		Command: strings.Join(append([]string{"go run ./compare"}, os.Args[1:]...), " "),
		Commit:  commit(), Machine: machine(), Go: runtime.Version(), Pinning: pinning,
		Stores: version("redis-server", "--version") + "; " + version("postgres", "--version"),
		Plan:   p, Links: links,
		Endpoints: endpoints, Protocols: protocols,
		Headers: chromiumHeaders.Browser + " (recorded " + chromiumHeaders.Measured + ")",
	}
	if c := os.Getenv("COMPARE_COMMAND"); c != "" {
		res.Command = c // the command as the user typed it, from scripts/compare.sh
	}
	slog.Info("comparing", "mode", mode, "plan", p.String(), "out", out)
	began, busyBefore := time.Now(), machineBusy()
	err := runAll(ctx, p, serverCPU, res, func(r row) {
		res.Rows = append(res.Rows, r)
		ri, ci := r.phase("incr", "rate"), r.phase("incr", "closed")
		slog.Info("row", "impl", r.Impl, "size", r.Size, "rtt_ms", r.RTTms,
			"incr_p50_ms", fmt.Sprintf("%.2f", ri.P50us/1e3), "incr_per_s", fmt.Sprintf("%.0f", ci.PerSec),
			"cpu_us", cpuCell(ci), "errors", ri.Errors+ci.Errors+r.GrowErrors)
	})
	if left := leftRunning(); len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("still running after the run: %s", strings.Join(left, ", ")))
	}
	if err != nil {
		return err
	}
	took := time.Since(began)
	res.Others = others(took, machineBusy().sub(busyBefore))
	slog.Info("measured", "rows", len(res.Rows), "took", took.Round(time.Second),
		"processes_started", startedCount(), "left_running", 0, "others", res.Others)

	base := "compare-" + date
	if quick {
		base = "compare-quick-" + date
	}
	if tag != "" {
		base += "-" + tag
	}
	files := map[string]string{
		"md": base + ".md", "json": base + ".json", "bytes": base + "-bytes.svg",
		"latency-read": base + "-latency-read.svg", "latency-incr": base + "-latency-incr.svg", "cpu": base + "-cpu.svg",
	}
	var md, js, by, lr, li, cp bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetIndent("", "  ")
	err = errors.Join(
		res.writeMarkdown(&md, files), enc.Encode(res), res.writeBytesChart(&by),
		res.writeLatencyChart(&lr, "read"), res.writeLatencyChart(&li, "incr"), res.writeCPUChart(&cp))
	if err != nil {
		return err
	}
	for key, b := range map[string]*bytes.Buffer{"md": &md, "json": &js, "bytes": &by, "latency-read": &lr, "latency-incr": &li, "cpu": &cp} {
		if err := os.WriteFile(filepath.Join(out, files[key]), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	fmt.Print(md.String())
	slog.Info("wrote", "report", filepath.Join(out, files["md"]))
	return nil
}

// commit names the code that runs: git's HEAD, "+dirty" with changes.
func commit() string {
	head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(head))
	if status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(status) > 0 {
		c += "+dirty"
	}
	return c
}

// machine describes the machine: cores, processor, kernel.
func machine() string {
	model, cores := "unknown processor", 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "model name":
				model = strings.TrimSpace(v)
			case "processor":
				cores++ // runtime.NumCPU counts only the CPUs this process may use
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d cores, %s, Linux %s, %s", cores, model, strings.TrimSpace(string(kernel)), runtime.GOARCH)
}

// version returns the first line a command prints about its version.
func version(name string, args ...string) string {
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		return name + " (version unknown)"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return first
}

// busy is the CPU time the machine's processes used, user and system,
// from /proc/stat, and the time the hypervisor took from it. Interrupt
// time is left out: processes are not charged for it either.
type busy struct{ used, stolen time.Duration }

func (b busy) sub(a busy) busy { return busy{b.used - a.used, b.stolen - a.stolen} }

func machineBusy() busy {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return busy{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	tick := func(i int) time.Duration {
		if i >= len(f) {
			return 0
		}
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(n) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return busy{tick(1) + tick(2) + tick(3), tick(8)}
}

// others says how much CPU the machine's other processes used during a
// run of the given length: the machine's total less this process's and
// its children's (every one waited for by now). A process's own count
// includes what the hypervisor stole while it ran, so the machine's
// total does too here.
func others(took time.Duration, machine busy) string {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	ours := tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
	other := max(machine.used+machine.stolen-ours, 0)
	return fmt.Sprintf("Other processes used about %.1f CPU-seconds during the run's %.0f s (%.1f%% of one core); the run's own processes %.1f; the hypervisor took %.1f s.",
		other.Seconds(), took.Seconds(), 100*other.Seconds()/took.Seconds(), ours.Seconds(), machine.stolen.Seconds())
}
