package controller

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

var (
	fleetAgents = flag.Int("fleet.agents", 500, "agents in BenchmarkFleet")
	fleetRate   = flag.Float64("fleet.rate", 100, "org-wide API limit (calls/s) in BenchmarkFleet")
	fleetShare  = flag.Float64("fleet.share", 0.9, "controller rate as a fraction of the org limit in BenchmarkFleet")
)

type fleetResult struct {
	n             int
	makespan      time.Duration // first Open until the last pause was applied
	ideal         time.Duration // n / org rate
	lost          int           // recordings never paused
	inversions    int           // resumes answered while an already requested pause was still unapplied
	perRecording  int           // recordings whose first resume came before their first pause
	calls         int           // API calls (token requests excluded)
	rateLimited   int           // 429 answers
	callsPerEpoch float64
}

func (r fleetResult) String() string {
	return fmt.Sprintf("agents=%d makespan=%s ideal=%s ratio=%.3f lost=%d inversions=%d per-recording-inversions=%d calls/episode=%.2f 429s=%d",
		r.n, r.makespan.Round(time.Millisecond), r.ideal, float64(r.makespan)/float64(r.ideal), r.lost, r.inversions,
		r.perRecording, r.callsPerEpoch, r.rateLimited)
}

// runFleet has n agents, each on a call with one recording, open a PCI window at the same
// moment against an org-wide limit of orgRate calls/s. Each window closes as soon as its
// recording is paused; the run ends when every recording records again. With warm set, the
// controller listed every agent beforehand (as the service does when a helper connects), so
// the burst needs no listing calls.
func runFleet(tb testing.TB, backend string, n int, orgRate, ctrlRate float64, warm bool) fleetResult {
	tb.Helper()
	orgBurst := max(1, int(orgRate/10))
	e := newSimEnvTB(tb, backend, cxonesim.Options{RateLimit: orgRate, RateBurst: orgBurst})
	agents := make([]string, n)
	recs := make([]string, n)
	for i := range n {
		agents[i] = fmt.Sprintf("agent-%04d", i)
		_, r := e.call(agents[i], 1)
		recs[i] = r[0]
	}
	cfg := fastConfig()
	cfg.Rate, cfg.Burst = ctrlRate, max(1, int(orgRate/20))
	cfg.Workers = 32
	cfg.RefreshInterval = time.Hour
	cfg.PollIntervalPaused = time.Hour // polls would only add calls to count
	cfg.BaseBackoff, cfg.MaxBackoff = 50*time.Millisecond, 2*time.Second
	h := newHarnessTB(tb, e.be, cfg)
	if warm {
		// Setting the scene, not measured: both limits are lifted while a few callers list
		// every agent, then restored with full buckets. Listing at the measured rates took
		// 2n/ctrlRate seconds (44 s for 2000 agents), and n callers all waiting on the
		// controller's limiter each rescanned every agent whenever a token came free
		// (acquire, pauseWorkLocked): that warm-up used more CPU than all the rest.
		e.sim.SetRateLimit(-1, 0)
		h.c.lim.SetLimit(rate.Limit(1e9))
		h.c.lim.SetBurst(1 << 20)
		todo := make(chan string, n)
		for _, a := range agents {
			todo <- a
		}
		close(todo)
		var wg sync.WaitGroup
		for range cfg.Workers {
			wg.Go(func() {
				for a := range todo {
					for try := 0; ; try++ {
						err := h.c.Refresh(context.Background(), a)
						if err == nil {
							break
						}
						if try == 20 {
							tb.Error(err)
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		h.c.lim.SetLimit(rate.Limit(ctrlRate))
		h.c.lim.SetBurst(cfg.Burst)
		e.sim.SetRateLimit(orgRate, orgBurst)
	}
	// Let the buckets refill so the burst starts from the same place.
	time.Sleep(time.Duration(float64(time.Second) * float64(orgBurst) / orgRate))
	e.sim.ResetCalls()

	openedAt := make([]time.Time, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			openedAt[i] = time.Now()
			// Not h.open: Fatal must not be called off the test's goroutine.
			if err := h.c.Open(context.Background(), Open{AgentID: agents[i], Episode: "ep", Field: "credit_card_number",
				Rule: "PCI-DSS-Req-3.4", Kind: "field-rule", Reason: ReasonPCIDetected}); err != nil {
				tb.Errorf("open %s: %v", agents[i], err)
			}
		})
	}
	wg.Wait()
	// Close each window once its recording is paused.
	closed := make([]bool, n)
	left := n
	deadline := time.Now().Add(5*time.Minute + time.Duration(float64(4*n)/orgRate*float64(time.Second)))
	for left > 0 {
		for i := range n {
			if !closed[i] && e.paused(agents[i], recs[i]) {
				h.close(agents[i], "ep")
				closed[i] = true
				left--
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("fleet: %d pauses never landed; last error %q", left, h.c.Snapshot().LastError)
		}
		time.Sleep(time.Millisecond)
	}
	// Resuming takes a read and a resume per agent at the controller's rate, so the deadline
	// grows with n like the one above (a fixed 30 s failed from about 1400 agents). Each scan
	// starts at the first agent not yet seen recording; a full pass confirms the end.
	firstPaused := func(from int) int {
		for from < n && e.recording(agents[from], recs[from]) {
			from++
		}
		return from
	}
	for next := 0; ; {
		if next = firstPaused(next); next == n {
			if next = firstPaused(0); next == n {
				break
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("fleet: %s still paused after the windows closed; last error %q", agents[next], h.c.Snapshot().LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.quiet()

	res := fleetResult{n: n, ideal: time.Duration(float64(n) / orgRate * float64(time.Second))}
	tid := map[string]int{}
	for i := range n {
		tid[e.targetID(agents[i], recs[i])] = i
	}
	pausedAt := make([]time.Time, n)
	firstResume := make([]time.Time, n)
	var resumes []time.Time
	for _, c := range e.sim.Calls() {
		if c.Op == "token" {
			continue
		}
		res.calls++
		if c.Status == 429 {
			res.rateLimited++
		}
		i, ok := tid[c.Target]
		if !ok || c.Status >= 300 {
			continue
		}
		switch c.Op {
		case e.pauseOp():
			if pausedAt[i].IsZero() {
				pausedAt[i] = c.Time
			}
		case e.resumeOp():
			resumes = append(resumes, c.Time)
			if firstResume[i].IsZero() {
				firstResume[i] = c.Time
			}
		}
	}
	var last time.Time
	for i := range n {
		if pausedAt[i].IsZero() || len(e.sim.PausedIntervals(e.targetID(agents[i], recs[i]))) == 0 {
			res.lost++
			continue
		}
		if pausedAt[i].After(last) {
			last = pausedAt[i]
		}
		if !firstResume[i].IsZero() && firstResume[i].Before(pausedAt[i]) {
			res.perRecording++
		}
	}
	res.makespan = last.Sub(start)
	sort.Slice(resumes, func(a, b int) bool { return resumes[a].Before(resumes[b]) })
	for _, r := range resumes {
		for i := range n {
			if openedAt[i].Before(r) && (pausedAt[i].IsZero() || pausedAt[i].After(r)) {
				res.inversions++
				break
			}
		}
	}
	res.callsPerEpoch = float64(res.calls) / float64(n)
	if dbg != nil {
		dbg(e)
	}
	return res
}

var dbg func(e *simEnv)

func runFleetDbg(tb testing.TB, backend string, n int, orgRate, ctrlRate float64, warm bool) fleetResult {
	dbg = func(e *simEnv) {
		calls := e.sim.Calls()
		for i, c := range calls {
			if c.Status == 429 {
				for j := max(0, i-15); j <= i; j++ {
					tb.Logf("%s %s %s %d", calls[j].Time.Format("05.000000"), calls[j].Op, calls[j].Target, calls[j].Status)
				}
				tb.Log("----")
			}
		}
	}
	defer func() { dbg = nil }()
	return runFleet(tb, backend, n, orgRate, ctrlRate, warm)
}

func TestPeakLoadOrgRateLimit(t *testing.T) {
	tests := []struct {
		name     string
		backend  string
		orgRate  float64
		ctrlRate float64
		strict   bool // no 429s expected, so strict priority must hold end to end
	}{
		{"wem-v1 under the org limit", cxone.BackendWEMv1, 400, 380, true},
		{"wem-v1 controller faster than the org limit", cxone.BackendWEMv1, 300, 1000, false},
		{"cxone-mask under the org limit", cxone.BackendMask, 400, 380, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runFleet(t, tt.backend, 60, tt.orgRate, tt.ctrlRate, false)
			t.Log(r)
			if r.lost != 0 {
				t.Errorf("%d pauses lost", r.lost)
			}
			if r.perRecording != 0 {
				t.Errorf("%d recordings resumed before they were paused", r.perRecording)
			}
			switch {
			case tt.strict && r.rateLimited > 0:
				// Both buckets run near the same rate; on a loaded machine the requests bunch up
				// and the org bucket answers a few 429s after all. A 429 blocks every call for
				// Retry-After, after which another agent's resume may go first: priority is
				// only promised while CXone does not refuse, so the premise did not hold.
				t.Logf("%d 429s under the org limit (requests bunched up); the priority check needs none", r.rateLimited)
			case tt.strict && r.inversions != 0:
				t.Errorf("%d resumes overtook a pending pause", r.inversions)
			}
			if !tt.strict && r.rateLimited == 0 {
				t.Log("no 429 was provoked; the over-limit case did not exercise Retry-After")
			}
		})
	}
}

// BenchmarkFleet: -fleet.agents agents open a window in the same second against an org limit
// of -fleet.rate calls/s. Reported: makespan/ideal, lost pauses, inversions, calls/episode.
func BenchmarkFleet(b *testing.B) {
	for _, warm := range []bool{true, false} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			var r fleetResult
			for range b.N {
				r = runFleet(b, cxone.BackendWEMv1, *fleetAgents, *fleetRate, *fleetRate**fleetShare, warm)
			}
			b.ReportMetric(float64(r.makespan)/float64(r.ideal), "makespan/ideal")
			b.ReportMetric(float64(r.lost), "lost")
			b.ReportMetric(float64(r.inversions), "inversions")
			b.ReportMetric(r.callsPerEpoch, "calls/episode")
			b.ReportMetric(float64(r.rateLimited), "429s")
			b.Log(r)
		})
	}
}
