//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The controller and resilience sections run the project's Go benchmarks and the SIGKILL
// sweep from test binaries compiled once (go test -c), and read their reported metrics.

// ControllerResult is the controller section.
type ControllerResult struct {
	// DecisionUs: PCI event handed to the controller → first byte of the pause request on the
	// wire (in-process, loopback HTTP), microseconds; with the state file's fsync and without.
	DecisionUs       Micros `json:"decision_us"`
	DecisionNoSyncUs Micros `json:"decision_nosync_us"`
	// IPCToWireMs: the helper's pci_open on the unix socket → the pause request at the
	// simulator (TLS), milliseconds: the service side of key → pause.
	IPCToWireMs Quantiles `json:"ipc_to_wire_ms"`
	// Fleet: N agents open a PCI window in the same second against an org limit of OrgRate
	// calls/s; the controller's share is 90 % of it. Warm: agents were listed beforehand (as
	// when a helper connects); cold: the burst must list first.
	OrgRate float64    `json:"org_rate_per_s"`
	Fleet   []FleetRun `json:"fleet"`
}

// Micros is a latency summary in microseconds.
type Micros struct {
	N      int     `json:"n"`
	P50    float64 `json:"p50"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	Commit float64 `json:"commit_p50"` // the durable write before the first call
}

// FleetRun is one fleet burst.
type FleetRun struct {
	Agents          int     `json:"agents"`
	Warm            bool    `json:"warm"`
	MakespanIdeal   float64 `json:"makespan_over_ideal"` // (last pause applied − burst) ÷ (N ÷ org rate)
	Lost            int     `json:"lost_pauses"`
	Inversions      int     `json:"inversions"` // resumes answered while a requested pause was unapplied
	CallsPerEpisode float64 `json:"calls_per_episode"`
	RateLimited     int     `json:"responses_429"`
	WallS           float64 `json:"wall_s"`
}

// ResilienceResult is the resilience section.
type ResilienceResult struct {
	// CrashSweep: the controller runs in a child process that is SIGKILLed at a random point of
	// a scripted run of PCI events, per seed; a restart must finish the work.
	CrashSweep CrashSweep `json:"crash_sweep"`
	// Faults: agents run PCI episodes while the simulator injects 5xx, connection resets and
	// 429 bursts.
	Faults FaultRun `json:"fault_injection"`
}

// CrashSweep counts of the SIGKILL sweep.
type CrashSweep struct {
	Seeds        int     `json:"seeds"`
	Kills        int     `json:"kills"`
	Episodes     int     `json:"episodes"`
	LostPauses   int     `json:"lost_pauses"`
	WrongResumes int     `json:"wrong_resumes"`
	WallS        float64 `json:"wall_s"`
}

// FaultRun counts of the fault-injection run.
type FaultRun struct {
	Agents          int     `json:"agents"`
	Episodes        int     `json:"episodes"`
	Lost            int     `json:"lost_pauses"`
	WrongResumes    int     `json:"wrong_resumes"`
	Injected5xx     int     `json:"injected_5xx"`
	InjectedResets  int     `json:"injected_resets"`
	Injected429     int     `json:"injected_429"`
	CallsPerEpisode float64 `json:"calls_per_episode"`
	MakespanS       float64 `json:"makespan_s"`
	WallS           float64 `json:"wall_s"`
}

// testBinaries remembers what this run compiled: a binary left in b.Raw by an earlier run may
// be stale.
var testBinaries = map[string]string{}

// testBinary compiles pkg's tests into b.Raw, once per run, and returns its absolute path (the
// crash sweep re-executes it from the package directory).
func testBinary(ctx context.Context, b *Bench, pkg string) (string, error) {
	if p, ok := testBinaries[pkg]; ok {
		return p, nil
	}
	out, err := filepath.Abs(filepath.Join(b.Raw, strings.ReplaceAll(strings.TrimPrefix(pkg, "./"), "/", "_")+".test"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c %s: %w: %s", pkg, err, o)
	}
	testBinaries[pkg] = out
	return out, nil
}

// runTestBinary runs a compiled test binary in its package directory and returns its output.
func runTestBinary(ctx context.Context, bin, pkgDir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = pkgDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, tailLines(string(out), 15))
	}
	return string(out), nil
}

func tailLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// benchLine matches a benchmark result line: name, iterations, then value/unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// benchMetrics returns, per benchmark name (without the -GOMAXPROCS suffix), its metrics by
// unit.
func benchMetrics(out string) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			metrics[f[i+1]] = v
		}
		res[m[1]] = metrics
	}
	return res
}

func metric(all map[string]map[string]float64, bench, unit string) (float64, error) {
	m, ok := all[bench]
	if !ok {
		return 0, fmt.Errorf("benchmark %s did not report", bench)
	}
	v, ok := m[unit]
	if !ok {
		return 0, fmt.Errorf("benchmark %s reported no %q", bench, unit)
	}
	return v, nil
}

func runController(ctx context.Context, b *Bench, r *Results) error {
	c := &ControllerResult{OrgRate: 100}
	r.Controller = c
	ctl, err := testBinary(ctx, b, "./daemon/controller")
	if err != nil {
		return err
	}
	n := 1000
	if b.Quick {
		n = 200
	}
	out, err := runTestBinary(ctx, ctl, "daemon/controller", "-test.run", "^$", "-test.bench", "^BenchmarkDecisionLatency$",
		"-test.benchtime", fmt.Sprintf("%dx", n))
	if err != nil {
		return err
	}
	all := benchMetrics(out)
	for name, dst := range map[string]*Micros{"BenchmarkDecisionLatency/fsync": &c.DecisionUs, "BenchmarkDecisionLatency/nosync": &c.DecisionNoSyncUs} {
		dst.N = n
		for unit, p := range map[string]*float64{"p50-µs": &dst.P50, "p99-µs": &dst.P99, "max-µs": &dst.Max, "commit-p50-µs": &dst.Commit} {
			if *p, err = metric(all, name, unit); err != nil {
				return err
			}
		}
	}
	fmt.Printf("   decision latency (fsync): p50 %.0f µs p99 %.0f µs max %.0f µs\n", c.DecisionUs.P50, c.DecisionUs.P99, c.DecisionUs.Max)

	srv, err := testBinary(ctx, b, "./daemon/server")
	if err != nil {
		return err
	}
	ipcN := 200
	if b.Quick {
		ipcN = 50
	}
	out, err = runTestBinary(ctx, srv, "daemon/server", "-test.run", "^$", "-test.bench", "^BenchmarkPCIOpenToPauseOnWire$",
		"-test.benchtime", fmt.Sprintf("%dx", ipcN))
	if err != nil {
		return err
	}
	all = benchMetrics(out)
	c.IPCToWireMs.N = ipcN
	for unit, p := range map[string]*float64{"p50_ms": &c.IPCToWireMs.P50Ms, "p99_ms": &c.IPCToWireMs.P99Ms, "max_ms": &c.IPCToWireMs.MaxMs} {
		if *p, err = metric(all, "BenchmarkPCIOpenToPauseOnWire", unit); err != nil {
			return err
		}
	}
	c.IPCToWireMs.P90Ms = -1 // not reported by the benchmark
	fmt.Printf("   pci_open over IPC → pause on the wire: p50 %.1f ms p99 %.1f ms\n", c.IPCToWireMs.P50Ms, c.IPCToWireMs.P99Ms)

	sizes := []int{100, 500, 2000}
	kinds := []string{"warm", "cold"}
	if b.Quick {
		sizes, kinds = []int{100}, []string{"warm"}
	}
	for _, kind := range kinds {
		for _, agents := range sizes {
			if kind == "cold" && agents > 100 {
				continue // the cold burst's listing cost shows at 100 already; larger N would add minutes
			}
			start := time.Now()
			out, err := runTestBinary(ctx, ctl, "daemon/controller", "-test.run", "^$", "-test.bench", "^BenchmarkFleet$/^"+kind+"$",
				"-test.benchtime", "1x", "-test.timeout", "20m", fmt.Sprintf("-fleet.agents=%d", agents), fmt.Sprintf("-fleet.rate=%g", c.OrgRate))
			if err != nil {
				return err
			}
			all := benchMetrics(out)
			name := "BenchmarkFleet/" + kind
			f := FleetRun{Agents: agents, Warm: kind == "warm", WallS: time.Since(start).Seconds()}
			var lost, inv, r429 float64
			for unit, p := range map[string]*float64{"makespan/ideal": &f.MakespanIdeal, "lost": &lost, "inversions": &inv,
				"calls/episode": &f.CallsPerEpisode, "429s": &r429} {
				if *p, err = metric(all, name, unit); err != nil {
					return err
				}
			}
			f.Lost, f.Inversions, f.RateLimited = int(lost), int(inv), int(r429)
			fmt.Printf("   fleet %s N=%d: makespan %.2f× ideal, %d lost, %d inversions, %.2f calls/episode (%.0f s)\n",
				kind, agents, f.MakespanIdeal, f.Lost, f.Inversions, f.CallsPerEpisode, f.WallS)
			c.Fleet = append(c.Fleet, f)
		}
	}
	return nil
}

var crashLine = regexp.MustCompile(`CRASH_SWEEP seeds=(\d+) kills=(\d+) episodes=(\d+) lost_pauses=(\d+) wrong_resumes=(\d+)`)

func runResilience(ctx context.Context, b *Bench, r *Results) error {
	s := &ResilienceResult{}
	r.Resilience = s
	ctl, err := testBinary(ctx, b, "./daemon/controller")
	if err != nil {
		return err
	}
	seeds := 400
	if b.Quick {
		seeds = 50
	}
	start := time.Now()
	out, err := runTestBinary(ctx, ctl, "daemon/controller", "-test.run", "^TestCrashRecoverySIGKILL$", "-test.v",
		"-test.timeout", "30m", fmt.Sprintf("-crash.seeds=%d", seeds))
	if err != nil {
		return err
	}
	m := crashLine.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("crash sweep printed no CRASH_SWEEP line: %s", tailLines(out, 10))
	}
	v := make([]int, 5)
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	s.CrashSweep = CrashSweep{Seeds: v[0], Kills: v[1], Episodes: v[2], LostPauses: v[3], WrongResumes: v[4], WallS: time.Since(start).Seconds()}
	fmt.Printf("   crash sweep: %d seeds, %d kills, %d episodes, %d lost pauses, %d wrong resumes (%.0f s)\n",
		v[0], v[1], v[2], v[3], v[4], s.CrashSweep.WallS)

	agents := 100
	if b.Quick {
		agents = 30
	}
	start = time.Now()
	out, err = runTestBinary(ctx, ctl, "daemon/controller", "-test.run", "^$", "-test.bench", "^BenchmarkFaultInjection$",
		"-test.benchtime", "1x", "-test.timeout", "10m", fmt.Sprintf("-faults.agents=%d", agents))
	if err != nil {
		return err
	}
	all := benchMetrics(out)
	f := FaultRun{Agents: agents, WallS: time.Since(start).Seconds()}
	var ep, lost, wrong, e5, rs, r4 float64
	for unit, p := range map[string]*float64{"episodes": &ep, "lost": &lost, "wrong_resumes": &wrong, "5xx": &e5, "resets": &rs,
		"429s": &r4, "calls/episode": &f.CallsPerEpisode, "makespan_s": &f.MakespanS} {
		if *p, err = metric(all, "BenchmarkFaultInjection", unit); err != nil {
			return err
		}
	}
	f.Episodes, f.Lost, f.WrongResumes, f.Injected5xx, f.InjectedResets, f.Injected429 = int(ep), int(lost), int(wrong), int(e5), int(rs), int(r4)
	s.Faults = f
	fmt.Printf("   fault injection: %d agents, %d episodes, %d 5xx, %d resets, %d 429s injected: %d lost, %d wrong resumes\n",
		f.Agents, f.Episodes, f.Injected5xx, f.InjectedResets, f.Injected429, f.Lost, f.WrongResumes)
	return nil
}

func (c *ControllerResult) report(b *Bench) (string, error) {
	var w strings.Builder
	w.WriteString("## Controller\n\n")
	w.WriteString("| measure | n | p50 | p99 | max |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&w, "| PCI event → first byte of the pause request on the wire (state file fsync'd first) | %d | %.0f µs | %.0f µs | %.0f µs |\n",
		c.DecisionUs.N, c.DecisionUs.P50, c.DecisionUs.P99, c.DecisionUs.Max)
	fmt.Fprintf(&w, "| the same without fsync (what the durable write costs) | %d | %.0f µs | %.0f µs | %.0f µs |\n",
		c.DecisionNoSyncUs.N, c.DecisionNoSyncUs.P50, c.DecisionNoSyncUs.P99, c.DecisionNoSyncUs.Max)
	fmt.Fprintf(&w, "| helper's pci_open on the unix socket → pause request at the simulator (TLS) | %d | %.1f ms | %.1f ms | %.1f ms |\n\n",
		c.IPCToWireMs.N, c.IPCToWireMs.P50Ms, c.IPCToWireMs.P99Ms, c.IPCToWireMs.MaxMs)
	fmt.Fprintf(&w, "Fleet: N agents open a PCI window in the same second against an org-wide limit of %.0f calls/s (the controller's share 90 %% of it); the makespan runs from the burst to the last pause applied, the ideal is N ÷ %.0f s. Warm: the agents' recordings were listed beforehand (as when a helper connects); cold: the burst must list first.\n\n",
		c.OrgRate, c.OrgRate)
	w.WriteString("| agents | listed beforehand | makespan ÷ ideal | lost pauses | inversions | calls per episode | 429 answers |\n|---|---|---|---|---|---|---|\n")
	for _, f := range c.Fleet {
		fmt.Fprintf(&w, "| %d | %v | %.2f | %d | %d | %.2f | %d |\n", f.Agents, yesNo(f.Warm), f.MakespanIdeal, f.Lost, f.Inversions, f.CallsPerEpisode, f.RateLimited)
	}
	w.WriteString("\n![fleet](fleet.png)\n")
	var ss []series
	for _, warm := range []bool{true, false} {
		s := series{Name: "listed beforehand"}
		if !warm {
			s.Name = "cold (lists in the burst)"
		}
		for _, f := range c.Fleet {
			if f.Warm == warm {
				s.X = append(s.X, float64(f.Agents))
				s.Y = append(s.Y, f.MakespanIdeal)
			}
		}
		if len(s.X) > 0 {
			ss = append(ss, s)
		}
	}
	err := plotLines(filepath.Join(b.Out, "fleet.png"), fmt.Sprintf("Fleet burst against an org limit of %.0f calls/s", c.OrgRate),
		"agents (log scale)", "makespan ÷ ideal", true, ss, hline{"target 1.2×", 1.2}, hline{"ideal", 1})
	return w.String(), err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *ControllerResult) targets() []target {
	var t []target
	worst, lost, inv := 0.0, 0, 0
	for _, f := range c.Fleet {
		if f.Warm {
			worst = max(worst, f.MakespanIdeal)
		}
		lost += f.Lost
		inv += f.Inversions
	}
	t = append(t, target{what: "fleet makespan ÷ ideal (agents listed beforehand, worst N)", goal: "≤ 1.2", got: fmt.Sprintf("%.2f", worst), met: worst <= 1.2, known: len(c.Fleet) > 0})
	coldWorst := 0.0
	cold := false
	for _, f := range c.Fleet {
		if !f.Warm {
			coldWorst, cold = max(coldWorst, f.MakespanIdeal), true
		}
	}
	if cold {
		t = append(t, target{what: "fleet makespan ÷ ideal (cold: listing in the burst, worst N)", goal: "≤ 1.2", got: fmt.Sprintf("%.2f", coldWorst), met: coldWorst <= 1.2, known: true})
	}
	t = append(t, target{what: "fleet: lost pauses / inversions", goal: "0 / 0", got: fmt.Sprintf("%d / %d", lost, inv), met: lost == 0 && inv == 0, known: len(c.Fleet) > 0})
	return t
}

func (s *ResilienceResult) report(b *Bench) (string, error) {
	var w strings.Builder
	w.WriteString("## Resilience\n\n")
	cs := s.CrashSweep
	fmt.Fprintf(&w, "**SIGKILL sweep.** The controller runs in a child process that is killed with SIGKILL at a random point of a scripted run of PCI events, once per seed; a fresh process on the same state file must finish the work. %d seeds, %d kills, %d PCI episodes: **%d lost pauses, %d wrong resumes** (%.0f s).\n\n",
		cs.Seeds, cs.Kills, cs.Episodes, cs.LostPauses, cs.WrongResumes, cs.WallS)
	f := s.Faults
	fmt.Fprintf(&w, "**Fault injection.** %d agents run %d PCI episodes while the simulator injects faults; it answered %d calls with 503, reset %d connections and answered %d with 429 (bursts, with Retry-After). Result: **%d lost pauses, %d wrong resumes**; %.2f calls per episode; the last agent was settled after %.1f s.\n",
		f.Agents, f.Episodes, f.Injected5xx, f.InjectedResets, f.Injected429, f.Lost, f.WrongResumes, f.CallsPerEpisode, f.MakespanS)
	return w.String(), nil
}

func (s *ResilienceResult) targets() []target {
	lost := s.CrashSweep.LostPauses + s.Faults.Lost
	wrong := s.CrashSweep.WrongResumes + s.Faults.WrongResumes
	return []target{{what: "crash sweep + fault injection: lost pauses / wrong resumes", goal: "0 / 0",
		got: fmt.Sprintf("%d / %d", lost, wrong), met: lost == 0 && wrong == 0, known: true}}
}
