package controller

// One test per scenario of the integration guide, named after it, each run against the
// simulator for every back end it applies to.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/cxone/webhook"
	"pcipause/daemon/store"
)

func exportAudit(t *testing.T, h *harness) string {
	t.Helper()
	var b strings.Builder
	if _, err := h.st.Export(time.Time{}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The capture gap: the pause intent must be durable before the first call leaves.
func TestCaptureGapIntentPersistedBeforeCall(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-7", 1)
			probe := &backendProbe{Backend: e.be}
			h := newHarness(t, probe, fastConfig())
			var mu sync.Mutex
			var seen []string
			probe.onPause = func(tg cxone.Target) {
				err := h.st.View(func(tx *store.Tx) error {
					eps, _ := tx.Episodes()
					ins, _ := tx.Intents()
					tgs, _ := tx.Targets()
					marked := false
					for _, x := range tgs {
						if x.Target == tg && x.PausedByUs && x.Desired == cxone.StatusPaused {
							marked = true
						}
					}
					mu.Lock()
					seen = append(seen, fmt.Sprintf("episodes=%d intents=%d marked=%v", len(eps), len(ins), marked))
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
			h.open("agent-7", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-7", recs[0]) })
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 {
				t.Fatal("no pause call observed")
			}
			for _, s := range seen {
				if s != "episodes=1 intents=1 marked=true" {
					t.Errorf("at the pause call the state file held %s; want the window, the intent and the marked target", s)
				}
			}
		})
	}
}

// A stale recording id from an earlier interaction must never be paused for a new one.
func TestStaleRecordingIDAfterNewInteraction(t *testing.T) {
	tests := []struct {
		name        string
		refresh     time.Duration
		interaction bool // the helper knows the interaction id
	}{
		{"interaction known", time.Hour, true},
		{"interaction unknown, listing older than refresh interval", 10 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
			in1, r1 := e.call("agent-1", 1)
			cfg := fastConfig()
			cfg.RefreshInterval = tt.refresh
			h := newHarness(t, e.be, cfg)
			if err := h.c.Refresh(context.Background(), "agent-1"); err != nil {
				t.Fatal(err)
			}
			e.sim.EndInteraction(in1)
			in2, r2 := e.call("agent-1", 1)
			if tt.refresh < time.Second {
				time.Sleep(2 * tt.refresh) // let the short-lived listing go stale
			}
			inter := ""
			if tt.interaction {
				inter = in2
			}
			h.open("agent-1", "ep-1", inter)
			h.eventually("new recording paused", func() bool { return e.paused("agent-1", r2[0]) })
			h.quiet()
			if n := e.count("pause", r1[0]); n != 0 {
				t.Errorf("%d pause calls went to the previous interaction's recording\n%s", n, e.callLog())
			}
		})
	}
}

func TestMultipleRecordingsOnOneInteraction(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	in, recs := e.call("agent-2", 3)
	h := newHarness(t, e.be, fastConfig())
	h.open("agent-2", "ep-1", in)
	h.eventually("all three paused", func() bool {
		return e.paused("agent-2", recs[0]) && e.paused("agent-2", recs[1]) && e.paused("agent-2", recs[2])
	})
	interaction := func() store.Interaction {
		var ins []store.Interaction
		h.st.View(func(tx *store.Tx) (err error) { ins, err = tx.Interactions(); return err })
		for _, x := range ins {
			if x.ID == in {
				return x
			}
		}
		return store.Interaction{}
	}
	if x := interaction(); !x.PCIOpen || x.Desired != cxone.StatusPaused || x.AgentID != "agent-2" {
		t.Errorf("interaction record while paused = %+v", x)
	}
	h.close("agent-2", "ep-1")
	h.eventually("all three recording", func() bool {
		return e.recording("agent-2", recs[0]) && e.recording("agent-2", recs[1]) && e.recording("agent-2", recs[2])
	})
	h.quiet()
	if x := interaction(); x.PCIOpen || x.Desired != cxone.StatusRecording {
		t.Errorf("interaction record after resume = %+v", x)
	}
	for _, r := range recs {
		if p, res := e.count("pause", r), e.count("resume", r); p != 1 || res != 1 {
			t.Errorf("%s: %d pauses, %d resumes; want 1 each", r, p, res)
		}
	}
}

func TestAmbiguousInteractionPausesAll(t *testing.T) {
	tests := []struct {
		name        string
		interaction int // index of the interaction the helper names, -1 for none
		wantPaused  []bool
		wantAudit   bool
	}{
		{"unknown interaction", -1, []bool{true, true}, true},
		{"interaction named", 1, []bool{false, true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
			inA, ra := e.call("agent-3", 1)
			inB, rb := e.call("agent-3", 1)
			ins, recs := []string{inA, inB}, []string{ra[0], rb[0]}
			h := newHarness(t, e.be, fastConfig())
			inter := ""
			if tt.interaction >= 0 {
				inter = ins[tt.interaction]
			}
			h.open("agent-3", "ep-1", inter)
			h.eventually("paused", func() bool {
				for i, r := range recs {
					if tt.wantPaused[i] && !e.paused("agent-3", r) {
						return false
					}
				}
				return true
			})
			h.quiet()
			for i, r := range recs {
				if got := e.paused("agent-3", r); got != tt.wantPaused[i] {
					t.Errorf("%s paused = %v, want %v", r, got, tt.wantPaused[i])
				}
			}
			if got := strings.Contains(exportAudit(t, h), `"type":"`+audit.TypeAmbiguous+`"`); got != tt.wantAudit {
				t.Errorf("ambiguous audit record present = %v, want %v", got, tt.wantAudit)
			}
		})
	}
}

func TestResumeAfterEndedIsDroppedNotRetried(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{PurgeAfter: -1})
			in, recs := e.call("agent-4", 1)
			h := newHarness(t, e.be, fastConfig())
			h.open("agent-4", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-4", recs[0]) })
			e.sim.EndInteraction(in) // the controller is not told
			h.close("agent-4", "ep-1")
			h.eventually("resume dropped", func() bool { return strings.Contains(exportAudit(t, h), "resume dropped") })
			h.quiet()
			before := len(e.sim.Calls())
			// Several paused-poll intervals pass: nothing more may be sent for it.
			time.Sleep(10 * fastConfig().PollIntervalPaused)
			h.quiet()
			tid := e.targetID("agent-4", recs[0])
			if n := e.count(e.resumeOp(), tid); n != 0 {
				t.Errorf("%d resume calls for an ended target\n%s", n, e.callLog())
			}
			if after := len(e.sim.Calls()); after > before+1 {
				t.Errorf("%d calls after the drop (retry storm?)\n%s", after-before, e.callLog())
			}
		})
	}
}

func TestResumeConflictWhileRecording(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-5", 1)
			h := newHarness(t, e.be, fastConfig())
			h.open("agent-5", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-5", recs[0]) })
			h.quiet()
			// Someone else resumes it behind our back.
			tg := cxone.Target{Kind: cxone.KindRecording, ID: recs[0], AgentID: "agent-5"}
			if backend == cxone.BackendMask {
				tg = cxone.Target{Kind: cxone.KindUser, ID: "agent-5", AgentID: "agent-5"}
			}
			if err := e.be.Resume(context.Background(), tg, cxone.ResumeRequest{Reason: ReasonPCICleared}); err != nil {
				t.Fatal(err)
			}
			h.eventually("recording again", func() bool { return e.recording("agent-5", recs[0]) })
			h.close("agent-5", "ep-1")
			h.eventually("already-recording noted", func() bool { return strings.Contains(exportAudit(t, h), "already recording") })
			h.quiet()
			if n := e.count(e.resumeOp(), e.targetID("agent-5", recs[0])); n != 1 {
				t.Errorf("%d resume calls, want only the outside one\n%s", n, e.callLog())
			}
		})
	}
}

func TestRapidTabSwitchingHoldDown(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend+" re-entry inside the hold-down", func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-6", 1)
			cfg := fastConfig()
			cfg.HoldDown = time.Hour // every re-entry below is inside it
			h := newHarness(t, e.be, cfg)
			h.open("agent-6", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-6", recs[0]) })
			for i := range 5 {
				h.close("agent-6", fmt.Sprintf("ep-%d", i+1))
				h.open("agent-6", fmt.Sprintf("ep-%d", i+2), "")
			}
			h.close("agent-6", "ep-6")
			h.quiet()
			if n := e.count(e.resumeOp(), ""); n != 0 {
				t.Errorf("%d resumes sent inside the hold-down", n)
			}
			if n := e.count(e.pauseOp(), ""); n != 1 {
				t.Errorf("%d pauses sent, want 1 (the store knows it is applied)\n%s", n, e.callLog())
			}
			if !e.paused("agent-6", recs[0]) {
				t.Error("recording resumed inside the hold-down")
			}
		})
		t.Run(backend+" re-entry after the resume", func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-6", 1)
			h := newHarness(t, e.be, fastConfig())
			h.open("agent-6", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-6", recs[0]) })
			h.close("agent-6", "ep-1")
			h.eventually("resumed", func() bool { return e.recording("agent-6", recs[0]) && e.count(e.resumeOp(), "") == 1 })
			h.open("agent-6", "ep-2", "")
			h.eventually("paused again", func() bool { return e.paused("agent-6", recs[0]) })
			if n := e.count(e.pauseOp(), ""); n != 2 {
				t.Errorf("%d pauses, want 2", n)
			}
		})
	}
}

func TestTerminationMidPauseWebhook(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{PurgeAfter: -1})
	_, recs := e.call("agent-8", 1)
	cfg := fastConfig()
	cfg.PollIntervalPaused = time.Hour // only the webhook can tell
	h := newHarness(t, e.be, cfg)
	secret := []byte("webhook-test-secret")
	hook, err := webhook.New(webhook.Options{Secret: secret, OnEnded: func(ctx context.Context, ev webhook.Event) error {
		return h.c.TargetEnded(ctx, ev.RecordingID)
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	e.sim.RegisterWebhook(srv.URL, string(secret))
	h.open("agent-8", "ep-1", "")
	h.eventually("paused", func() bool { return e.paused("agent-8", recs[0]) })
	h.quiet()
	e.sim.EndRecording(recs[0])
	h.eventually("controller forgot the recording", func() bool { return len(h.c.Snapshot().Targets) == 0 })
	h.close("agent-8", "ep-1")
	h.quiet()
	if n := e.count("resume", recs[0]) + e.count("get", recs[0]); n != 0 {
		t.Errorf("%d calls for a recording the webhook ended\n%s", n, e.callLog())
	}
	for _, d := range e.sim.Deliveries() {
		if d.Status != http.StatusNoContent {
			t.Errorf("delivery answered %d (%s)", d.Status, d.Err)
		}
	}
	if !strings.Contains(exportAudit(t, h), "pending resume dropped") {
		t.Error("audit does not record the dropped resume")
	}
}

func TestTerminationMidPausePolling(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{PurgeAfter: -1})
			in, recs := e.call("agent-9", 1)
			h := newHarness(t, e.be, fastConfig())
			h.open("agent-9", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-9", recs[0]) })
			e.sim.EndInteraction(in)
			// While the window is open the paused-poll re-lists and reads the target.
			h.eventually("poll noticed the end", func() bool { return strings.Contains(exportAudit(t, h), "dropped") })
			h.close("agent-9", "ep-1")
			h.quiet()
			if n := e.count(e.resumeOp(), ""); n != 0 {
				t.Errorf("%d resumes for an ended target\n%s", n, e.callLog())
			}
		})
	}
}

func TestTokenExpiryMidRun(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-10", 1)
			h := newHarness(t, e.be, fastConfig())
			h.open("agent-10", "ep-1", "")
			h.eventually("paused", func() bool { return e.paused("agent-10", recs[0]) })
			e.sim.ExpireTokens()
			h.close("agent-10", "ep-1")
			h.eventually("resumed with a fresh token", func() bool { return e.recording("agent-10", recs[0]) })
			tokens := e.count("token", "")
			if tokens != 2 {
				t.Errorf("%d token requests, want 2 (one refresh)\n%s", tokens, e.callLog())
			}
			if s := h.c.Snapshot(); s.LastError != "" {
				t.Errorf("last error %q after a refresh that worked", s.LastError)
			}
		})
	}
}

func TestServerErrorsBackoff(t *testing.T) {
	for _, backend := range backends {
		for _, tc := range []struct {
			name   string
			faults cxonesim.Faults
			fault  string
			n      int
			minGap func(i int, cfg Config) time.Duration
		}{
			// Resets carry no Retry-After: capped exponential backoff with jitter, each wait
			// at least half the doubled base.
			{"connection resets", cxonesim.Faults{NextResets: 5}, "reset", 5, func(i int, cfg Config) time.Duration {
				return min(cfg.BaseBackoff<<(i-1), cfg.MaxBackoff) / 2
			}},
			// A 503 with Retry-After is honoured.
			{"503 with retry-after", cxonesim.Faults{Next5xx: 2, RetryAfter: time.Second}, "5xx", 2, func(int, Config) time.Duration {
				return time.Second
			}},
		} {
			t.Run(backend+" "+tc.name, func(t *testing.T) {
				e := newSimEnv(t, backend, cxonesim.Options{})
				_, recs := e.call("agent-11", 1)
				cfg := fastConfig()
				cfg.BaseBackoff, cfg.MaxBackoff = 20*time.Millisecond, 80*time.Millisecond
				h := newHarness(t, e.be, cfg)
				if err := h.c.Refresh(context.Background(), "agent-11"); err != nil {
					t.Fatal(err)
				}
				e.sim.SetFaults(tc.faults)
				h.open("agent-11", "ep-1", "")
				h.eventually("paused despite the faults", func() bool { return e.paused("agent-11", recs[0]) })
				var failed []time.Time
				for _, c := range e.sim.Calls() {
					if c.Fault == tc.fault {
						failed = append(failed, c.Time)
					}
				}
				if len(failed) != tc.n {
					t.Fatalf("%d failed calls, want %d\n%s", len(failed), tc.n, e.callLog())
				}
				for i := 1; i < len(failed); i++ {
					if gap, want := failed[i].Sub(failed[i-1]), tc.minGap(i, cfg); gap < want {
						t.Errorf("retry %d came %s after the previous, want at least %s (no spinning)", i, gap, want)
					}
				}
				if s := h.c.Snapshot(); s.LastError == "" {
					t.Error("the failures were not surfaced as the last error")
				}
			})
		}
		t.Run(backend+" 429 retry-after", func(t *testing.T) {
			e := newSimEnv(t, backend, cxonesim.Options{})
			_, recs := e.call("agent-12", 1)
			h := newHarness(t, e.be, fastConfig())
			if err := h.c.Refresh(context.Background(), "agent-12"); err != nil {
				t.Fatal(err)
			}
			retry := 300 * time.Millisecond
			e.sim.SetFaults(cxonesim.Faults{Next429: 1, RetryAfter: retry})
			h.open("agent-12", "ep-1", "")
			h.eventually("paused after the 429", func() bool { return e.paused("agent-12", recs[0]) })
			calls := e.sim.Calls()
			var at429 time.Time
			for _, c := range calls {
				if c.Fault == "429" {
					at429 = c.Time
				} else if !at429.IsZero() && c.Op != "token" {
					if gap := c.Time.Sub(at429); gap < time.Second {
						// Retry-After is sent in whole seconds; at least that is honoured.
						t.Errorf("next call %s after the 429, want at least the Retry-After\n%s", gap, e.callLog())
					}
					break
				}
			}
			if at429.IsZero() {
				t.Fatalf("no 429 seen\n%s", e.callLog())
			}
		})
	}
}

// 403: the missing scope is named in the last error and the audit trail, and the pause keeps
// being retried with backoff (fail closed) until the scope is granted.
func TestForbiddenReportsMissingScope(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	_, recs := e.call("agent-13", 1)
	e.sim.AddClient(e.demo.ClientID, e.demo.ClientSecret, cxonesim.ScopeRead, cxonesim.ScopeControl)
	cfg := fastConfig()
	cfg.BaseBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	h := newHarness(t, e.be, cfg)
	h.open("agent-13", "ep-1", "")
	h.eventually("403 surfaced", func() bool { return strings.Contains(h.c.Snapshot().LastError, "403") })
	if s := h.c.Snapshot(); !strings.Contains(s.LastError, cxonesim.ScopePause) || !s.Degraded {
		t.Errorf("snapshot: last error %q degraded %v; want the missing scope named and degraded", s.LastError, s.Degraded)
	}
	if !strings.Contains(exportAudit(t, h), "likely missing scope "+cxonesim.ScopePause) {
		t.Error("audit does not name the missing scope")
	}
	// Granting the scope (and a fresh token) lets the retried pause land.
	e.sim.AddClient(e.demo.ClientID, e.demo.ClientSecret)
	e.sim.ExpireTokens()
	h.eventually("paused once the scope is granted", func() bool { return e.paused("agent-13", recs[0]) })
}
