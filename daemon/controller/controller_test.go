package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/store"
)

func TestPauseAndResumeFake(t *testing.T) {
	be := newFake()
	be.add("a1", "i1", "r1")
	h := newHarness(t, be, fastConfig())
	h.open("a1", "e1", "")
	h.eventually("r1 paused", func() bool { return be.status("r1") == cxone.StatusPaused })
	h.close("a1", "e1")
	h.eventually("r1 recording", func() bool { return be.status("r1") == cxone.StatusRecording })
	h.quiet()
	log := be.log()
	want := []string{"list a1", "pause r1", "get r1", "resume r1"}
	if len(log) != len(want) {
		t.Fatalf("calls %v, want %v", log, want)
	}
	for i, c := range log {
		got := c.Op + " " + c.Target
		if c.Op == "list" {
			got = "list " + c.Agent
		}
		if got != want[i] {
			t.Errorf("call %d = %q, want %q", i, got, want[i])
		}
	}
	if n := h.verifyAudit(); n < 6 {
		t.Errorf("audit has %d records, want at least 6", n)
	}
}

func TestOpenBadInput(t *testing.T) {
	h := newHarness(t, newFake(), fastConfig())
	tests := []struct {
		name string
		o    Open
	}{
		{"no agent", Open{Episode: "e"}},
		{"no episode", Open{AgentID: "a"}},
		{"control char", Open{AgentID: "a\n", Episode: "e"}},
		{"long interaction", Open{AgentID: "a", Episode: "e", InteractionID: string(make([]byte, 300))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.c.Open(context.Background(), tt.o)
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("Open(%+v) = %v, want ErrBadInput", tt.o, err)
			}
		})
	}
	if err := h.c.Close(context.Background(), Close{AgentID: "a", Episode: "nope"}); !errors.Is(err, ErrUnknownEpisode) {
		t.Errorf("Close of unknown episode = %v, want ErrUnknownEpisode", err)
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	c := &Controller{cfg: fastConfig().withDefaults()}
	c.cfg.BaseBackoff, c.cfg.MaxBackoff = 100*time.Millisecond, time.Second
	c.rnd = rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		err      error
		attempt  int
		min, max time.Duration
	}{
		{"first 5xx", apiErr("pause", 503, cxone.ErrTransient, 0), 1, 50 * time.Millisecond, 100 * time.Millisecond},
		{"third 5xx", apiErr("pause", 503, cxone.ErrTransient, 0), 3, 200 * time.Millisecond, 400 * time.Millisecond},
		{"capped", apiErr("pause", 503, cxone.ErrTransient, 0), 30, 500 * time.Millisecond, time.Second},
		{"429 honours retry-after", apiErr("pause", 429, cxone.ErrRateLimited, 2*time.Second), 1, 2 * time.Second, 3 * time.Second},
		{"pending polls", errPendingWork, 9, c.cfg.PollIntervalPaused, c.cfg.PollIntervalPaused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				d := c.backoffLocked(tt.err, tt.attempt)
				if d < tt.min || d > tt.max {
					t.Fatalf("backoff = %s, want in [%s, %s]", d, tt.min, tt.max)
				}
			}
		})
	}
}

// A recording that ends (webhook) while its pause is in flight and answered 404 leaves no stray
// record behind, and the next start loads a clean state.
func TestTargetEndedDuringFailingPause(t *testing.T) {
	be := newFake()
	be.add("a1", "i1", "r1")
	h := newHarness(t, be, fastConfig())
	ended := make(chan struct{})
	be.onCall = func(op string, tg cxone.Target) {
		if op == "pause" {
			select {
			case <-ended:
			default:
				close(ended)
				h.c.TargetEnded(context.Background(), "r1")
			}
		}
	}
	be.fail("pause", apiErr("pause", 404, cxone.ErrNotFound, 0))
	h.open("a1", "e1", "")
	<-ended
	h.eventually("target forgotten", func() bool { return len(h.c.Snapshot().Targets) == 0 })
	be.end("r1")
	h.quiet()
	h.st.View(func(tx *store.Tx) error {
		ts, err := tx.Targets()
		for _, x := range ts {
			if x.Target.ID == "" {
				t.Errorf("stray target record %+v", x)
			}
		}
		return err
	})
}

// The process died after a resume reached CXone but before its answer was committed, and a
// new window opened: the file says PAUSED, CXone says RECORDING. The restart must not trust
// the file and skip the pause (found by the long SIGKILL sweep).
func TestRestartDoesNotTrustKnownState(t *testing.T) {
	be := newFake()
	tg := be.add("a1", "i1", "r1") // RECORDING at CXone
	h := newHarness(t, be, fastConfig())
	h.stop()
	st, err := store.Open(h.path, store.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.PutEpisode(store.Episode{AgentID: "a1", Episode: "e2", Reason: ReasonPCIDetected, OpenedAt: time.Now()}); err != nil {
			return err
		}
		if err := tx.PutIntent(store.Intent{AgentID: "a1", Desired: cxone.StatusPaused}); err != nil {
			return err
		}
		return tx.PutTarget(store.Target{Target: tg, Known: cxone.StatusPaused, PausedByUs: true, Desired: cxone.StatusPaused})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.start(be, fastConfig())
	h.eventually("paused after restart", func() bool { return be.status("r1") == cxone.StatusPaused })
}

// A resume whose answer is lost (CXone applied it, we saw a timeout) followed by a new window:
// the pause must be sent again, not skipped as "already paused".
func TestLostResumeAnswerThenReentry(t *testing.T) {
	be := newFake()
	be.add("a1", "i1", "r1")
	cfg := fastConfig()
	cfg.BaseBackoff, cfg.MaxBackoff = time.Hour, time.Hour // no retry of the failed resume
	h := newHarness(t, be, cfg)
	h.open("a1", "e1", "")
	h.eventually("paused", func() bool { return be.status("r1") == cxone.StatusPaused })
	be.onCall = func(op string, tg cxone.Target) {
		if op == "resume" {
			be.recs[tg.ID].status = cxone.StatusRecording // applied at CXone…
		}
	}
	be.fail("resume", apiErr("resume", 0, cxone.ErrTransient, 0)) // …but the answer was lost
	h.close("a1", "e1")
	h.eventually("resume attempted", func() bool { return be.count("resume", "r1") == 1 })
	h.open("a1", "e2", "")
	h.eventually("paused again", func() bool { return be.status("r1") == cxone.StatusPaused })
}
