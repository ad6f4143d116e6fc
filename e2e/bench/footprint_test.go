//go:build linux

package main

import (
	"math"
	"testing"
)

func TestFpParseStatus(t *testing.T) {
	text := "Name:\tpcipause\nState:\tS (sleeping)\nVmHWM:\t   15260 kB\nVmRSS:\t   14912 kB\nRssAnon:\t    6000 kB\nRssFile:\t    8912 kB\nThreads:\t7\n" +
		"voluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n"
	got := fpParseStatus(text)
	want := fpStatus{VmRSSKiB: 14912, VmHWMKiB: 15260, RssAnonKiB: 6000, RssFileKiB: 8912, Threads: 7, Voluntary: 1234, Nonvoluntary: 56}
	if got != want {
		t.Fatalf("fpParseStatus = %+v, want %+v", got, want)
	}
	// A task's status has no Vm lines; they stay zero.
	if got := fpParseStatus("voluntary_ctxt_switches:\t3\n"); got != (fpStatus{Voluntary: 3}) {
		t.Fatalf("task status = %+v", got)
	}
}

func TestFpParseStatCPU(t *testing.T) {
	tests := []struct {
		name, text string
		want       int64
		wantErr    bool
	}{
		{"plain", "4242 (pcipause) S 1 4242 4242 0 -1 4194560 900 0 0 0 31 17 0 0 20 0 7 0 123 0 0\n", 48, false},
		{"spaces and parens in comm", "77 (a b) (c)) R 1 77 77 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0\n", 11, false},
		{"truncated", "77 (x) R 1 2 3\n", 0, true},
		{"no comm", "garbage", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fpParseStatCPU(tt.text)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("fpParseStatCPU = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFpParseSchedstat(t *testing.T) {
	if got, err := fpParseSchedstat("8577384 2803707 6\n"); err != nil || got != 8577384 {
		t.Fatalf("fpParseSchedstat = %d, %v", got, err)
	}
	if _, err := fpParseSchedstat(""); err == nil {
		t.Fatal("empty schedstat: no error")
	}
}

func TestFpParseBenchLine(t *testing.T) {
	tests := []struct {
		line string
		want DetectorBench
		ok   bool
	}{
		{"BenchmarkDetectorKey-2   \t16069682\t        74.30 ns/op\t       0 B/op\t       0 allocs/op",
			DetectorBench{Name: "BenchmarkDetectorKey", NsPerOp: 74.3}, true},
		{"BenchmarkGuardKey   1000  106.6 ns/op  3 B/op  1 allocs/op",
			DetectorBench{Name: "BenchmarkGuardKey", NsPerOp: 106.6, BytesPerOp: 3, AllocsPerOp: 1}, true},
		{"BenchmarkX/sub-case-8 10 5 ns/op", DetectorBench{Name: "BenchmarkX/sub-case", NsPerOp: 5}, true},
		{"goos: linux", DetectorBench{}, false},
		{"BenchmarkX-2 --- FAIL", DetectorBench{}, false},
		{"PASS", DetectorBench{}, false},
	}
	for _, tt := range tests {
		got, ok := fpParseBenchLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("fpParseBenchLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFpGrowth(t *testing.T) {
	var ss []FootprintSample
	for e := 0; e <= 1000; e += 50 {
		// A warm-up step in the first half, then 2 KiB per episode.
		mib := 10.0
		if e >= 100 {
			mib = 12 + float64(e)*2/1024
		}
		ss = append(ss, FootprintSample{Episodes: e, ServiceMiB: mib})
	}
	got := fpGrowth(ss, func(s FootprintSample) float64 { return s.ServiceMiB })
	if math.Abs(got-2) > 1e-9 {
		t.Fatalf("fpGrowth = %v KiB/episode, want 2", got)
	}
	if got := fpGrowth(ss[:2], func(s FootprintSample) float64 { return s.ServiceMiB }); got != 0 {
		t.Fatalf("fpGrowth of two samples = %v, want 0", got)
	}
}

func TestFpCallStats(t *testing.T) {
	calls := []simCall{
		{Op: "token", Status: 200},
		{Op: "list", Status: 200}, {Op: "list", Status: 200}, {Op: "pause", Status: 200},
		{Op: "get", Status: 200}, {Op: "resume", Status: 200},
		{Op: "pause", Status: 200}, {Op: "get", Status: 200}, {Op: "resume", Status: 409},
	}
	f := &FootprintResult{EpisodesAttempted: 2}
	fpCallStats(f, calls)
	if f.PausesSeen != 2 || f.ResumesSeen != 1 || f.PausesAfterList != 1 || f.CallsFailed != 1 {
		t.Fatalf("pauses %d resumes %d after list %d failed %d", f.PausesSeen, f.ResumesSeen, f.PausesAfterList, f.CallsFailed)
	}
	if f.CallsPerEpisode != 4 || f.CallsByOp["token"] != 1 || f.CallsByOp["list"] != 2 {
		t.Fatalf("calls per episode %v, by op %v", f.CallsPerEpisode, f.CallsByOp)
	}
}
