//go:build linux

// Command bench is `make bench` and `make bench-quick`: it measures pcipause from the outside
// on a private Xvfb — the capture gap side by side with no protection and with the API pause
// alone, mask latency, the controller, the footprint and resilience — and writes
// bench/results.json (keys documented in results.go) and bench/REPORT.md with PNG plots.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jezek/xgb"

	"pcipause/e2e/xenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Bench is what every section gets.
type Bench struct {
	Bin   string // directory with the linux pcipause and pcipause-session binaries
	Out   string // bench/ (results.json, REPORT.md, *.png)
	Raw   string // bench/raw/ (videos, logs, worst frames; not committed)
	Quick bool   // make bench-quick: a representative subset
	Env   *xenv.Env
	Log   *slog.Logger
}

// section is one part of the report.
type section struct {
	name string
	run  func(ctx context.Context, b *Bench, r *Results) error
}

var sections = []section{
	{"controller", runController},
	{"resilience", runResilience},
	{"footprint", runFootprint},
	{"mask_latency", runMask},
	{"capture_gap", runGap},
}

func run(ctx context.Context) error {
	b := &Bench{}
	only := ""
	flag.StringVar(&b.Bin, "bin", "dist/linux-amd64", "directory holding the linux pcipause and pcipause-session")
	flag.StringVar(&b.Out, "out", "bench", "output directory")
	flag.BoolVar(&b.Quick, "quick", false, "a representative subset (make bench-quick)")
	flag.StringVar(&only, "only", "", "comma-separated sections to run (default all): "+sectionNames())
	flag.Parse()
	b.Raw = filepath.Join(b.Out, "raw")
	if err := os.MkdirAll(b.Raw, 0o755); err != nil {
		return err
	}
	xgb.Logger = stdlog.New(io.Discard, "", 0) // xgb chatters about missing X authority files
	b.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, p := range []string{"pcipause", "pcipause-session"} {
		if _, err := os.Stat(filepath.Join(b.Bin, p)); err != nil {
			return fmt.Errorf("%s: %w (run make build)", p, err)
		}
	}

	r := &Results{Started: time.Now().UTC(), Quick: b.Quick, Machine: machine()}
	env, err := xenv.Start(ctx, xenv.Options{First: 40, Last: 59, Size: image.Pt(1280, 800), Log: b.Log})
	if err != nil {
		return fmt.Errorf("private X server: %w", err)
	}
	defer env.Close()
	b.Env = env

	for _, s := range sections {
		if only != "" && !contains(strings.Split(only, ","), s.name) {
			continue
		}
		fmt.Printf("== %s\n", s.name)
		start := time.Now()
		err := s.run(ctx, b, r)
		d := time.Since(start).Round(time.Second)
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", s.name, err))
			fmt.Printf("   %s FAILED after %s: %v\n", s.name, d, err)
		} else {
			fmt.Printf("   %s done in %s\n", s.name, d)
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.DurationS = time.Since(r.Started).Seconds()
	if err := writeJSON(filepath.Join(b.Out, "results.json"), r); err != nil {
		return err
	}
	if err := writeReport(b, r); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s in %s\n", filepath.Join(b.Out, "results.json"), filepath.Join(b.Out, "REPORT.md"),
		time.Since(r.Started).Round(time.Second))
	if len(r.Errors) > 0 {
		return fmt.Errorf("%d section(s) failed: %s", len(r.Errors), strings.Join(r.Errors, "; "))
	}
	return nil
}

func sectionNames() string {
	var n []string
	for _, s := range sections {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// machine describes where the numbers were taken.
func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		m.MemGiB = float64(kb) / (1 << 20)
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.Distro = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &m.LoadAvg1)
	}
	return m
}
