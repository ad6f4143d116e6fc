//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"pcipause/e2e/frames"
)

func TestBenchMetrics(t *testing.T) {
	out := `goos: linux
BenchmarkDecisionLatency/fsync-2         	    1000	   3062000 ns/op	      3062 p50-µs	     15269 p99-µs
BenchmarkFleet/warm-2   	       1	5512345678 ns/op	         3.000 calls/episode	         1.070 makespan/ideal	         0 lost
BenchmarkFaultInjection 	       1	   1.5 makespan_s	 12 5xx
--- BENCH: BenchmarkFleet/warm-2
    fleet_test.go:252: agents=100
PASS
`
	m := benchMetrics(out)
	check := func(bench, unit string, want float64) {
		t.Helper()
		got, err := metric(m, bench, unit)
		if err != nil || got != want {
			t.Errorf("%s %s = %v, %v; want %v", bench, unit, got, err, want)
		}
	}
	check("BenchmarkDecisionLatency/fsync", "p99-µs", 15269)
	check("BenchmarkFleet/warm", "makespan/ideal", 1.07)
	check("BenchmarkFleet/warm", "lost", 0)
	check("BenchmarkFaultInjection", "5xx", 12)
	if _, err := metric(m, "BenchmarkFleet/cold", "lost"); err == nil || !strings.Contains(err.Error(), "did not report") {
		t.Errorf("missing benchmark: err %v", err)
	}
	if _, err := metric(m, "BenchmarkFleet/warm", "inversions"); err == nil || !strings.Contains(err.Error(), "inversions") {
		t.Errorf("missing unit: err %v", err)
	}
}

func TestCrashLine(t *testing.T) {
	m := crashLine.FindStringSubmatch("    crash_test.go:260: CRASH_SWEEP seeds=25 kills=25 episodes=300 lost_pauses=0 wrong_resumes=0\n")
	if m == nil || m[1] != "25" || m[3] != "300" || m[5] != "0" {
		t.Fatalf("CRASH_SWEEP line not read: %q", m)
	}
}

// TestJudgeLeavesOutPausedFrames: frames captured while the recording was paused are not
// counted, and exposure is the time each exposed frame stays in the film.
func TestJudgeLeavesOutPausedFrames(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	res := &frames.Result{Frames: []frames.Frame{
		{PTS: at(0), Digits: 3},
		{PTS: at(100), Digits: 8},
		{PTS: at(200), Digits: 16}, // paused from 150 ms
		{PTS: at(300), Digits: 16}, // paused until 350 ms
		{PTS: at(400), Digits: 7},
		{PTS: at(500), Digits: 0},
	}}
	var run GapRun
	judge(&run, res, []interval{{Start: at(150), End: at(350)}})
	if run.Frames != 4 || run.FramesPaused != 2 {
		t.Errorf("frames kept %d paused %d, want 4 and 2", run.Frames, run.FramesPaused)
	}
	if run.MaxDigits != 8 || run.ExposedFrames != 2 || run.ExposedMs != 200 {
		t.Errorf("max %d exposed %d (%.0f ms), want 8, 2, 200 ms", run.MaxDigits, run.ExposedFrames, run.ExposedMs)
	}
	// A pause still in force at the end keeps everything after its start out.
	run = GapRun{}
	judge(&run, res, []interval{{Start: at(50)}})
	if run.Frames != 1 || run.MaxDigits != 3 {
		t.Errorf("open pause: kept %d frames, max %d; want 1 frame, 3 digits", run.Frames, run.MaxDigits)
	}
}

func TestQuantiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(d)
	if q.N != 100 || q.P50Ms != 50 || q.P99Ms != 99 || q.MaxMs != 100 {
		t.Errorf("quantiles %+v", q)
	}
	if (quantiles(nil) != Quantiles{}) {
		t.Error("empty sample")
	}
}

func TestGapTargets(t *testing.T) {
	g := &GapResult{DelaysMs: []int{80, 5, 1}, Runs: []GapRun{
		{Config: cfgPCIPause, DelayMs: 80, MaxDigits: 3},
		{Config: cfgPCIPause, DelayMs: 5, MaxDigits: 6},
		{Config: cfgPCIPause, DelayMs: 1, MaxDigits: 9},
		{Config: cfgAPIOnly, DelayMs: 80, MaxDigits: 16},
		{Config: cfgAPIOnly, DelayMs: 5, MaxDigits: 16, Error: "app did not start"},
	}}
	ts := g.targets()
	if !ts[0].met || ts[0].got != "6" {
		t.Errorf("pcipause target %+v: the 1 ms row has no target", ts[0])
	}
	if ts[1].known {
		t.Errorf("1 ms row %+v must be reported without a target", ts[1])
	}
	if !ts[2].met || ts[2].got != "16" {
		t.Errorf("api-only row %+v", ts[2])
	}
}
