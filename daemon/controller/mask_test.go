package controller

// cxone-mask specifics: 202 Accepted and 425 Too Early (a change still processing) are polled
// with get-recording-status, never stacked; 404 (no active call) and 422 (internal call) are
// dropped and audited.

import (
	"context"
	"strings"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

func TestMaskAcceptedAndTooEarlyNotStacked(t *testing.T) {
	tests := []struct {
		name     string
		outside  bool // another party's mask is still processing when ours is sent: 425
		wantMask int  // mask calls in the simulator's log, ours and the outside one
	}{
		{"202 accepted, still processing", false, 1},
		{"425 a previous change still processing", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t, cxone.BackendMask, cxonesim.Options{MaskDelay: 150 * time.Millisecond})
			e.call("agent-m", 1)
			h := newHarness(t, e.be, fastConfig())
			if err := h.c.Refresh(context.Background(), "agent-m"); err != nil {
				t.Fatal(err)
			}
			user := cxone.Target{Kind: cxone.KindUser, ID: "agent-m", AgentID: "agent-m"}
			if tt.outside {
				if err := e.be.Pause(context.Background(), user, cxone.PauseRequest{Reason: ReasonPCIDetected}); err == nil {
					t.Fatal("outside mask did not answer 202")
				}
			}
			h.open("agent-m", "ep-1", "")
			h.eventually("masked", func() bool { return e.sim.Masked("agent-m") })
			h.quiet()
			if n := e.count("mask", ""); n != tt.wantMask {
				t.Errorf("%d mask calls, want %d\n%s", n, tt.wantMask, e.callLog())
			}
			var codes []int
			for _, c := range e.sim.Calls() {
				if c.Op == "mask" {
					codes = append(codes, c.Status)
				}
			}
			if tt.outside && (len(codes) < 2 || codes[1] != 425) {
				t.Errorf("mask answers %v, want our mask to meet a 425", codes)
			}
			h.close("agent-m", "ep-1")
			h.eventually("unmasked", func() bool { return !e.sim.Masked("agent-m") })
			h.quiet()
			if n := e.count("unmask", ""); n != 1 {
				t.Errorf("%d unmask calls, want 1\n%s", n, e.callLog())
			}
		})
	}
}

func TestMaskNoActiveCall404(t *testing.T) {
	e := newSimEnv(t, cxone.BackendMask, cxonesim.Options{})
	e.sim.AddAgent("agent-n")
	h := newHarness(t, e.be, fastConfig())
	h.open("agent-n", "ep-1", "")
	h.eventually("no active call audited", func() bool { return strings.Contains(exportAudit(t, h), "no active recording") })
	if n := e.count("mask", ""); n != 0 {
		t.Errorf("%d mask calls without an active call", n)
	}
	// A call that starts while the window is open is masked by the paused-interval poll.
	e.call("agent-n", 1)
	h.eventually("new call masked", func() bool { return e.sim.Masked("agent-n") })
	h.close("agent-n", "ep-1")
	h.eventually("unmasked", func() bool { return !e.sim.Masked("agent-n") })
}

func TestMaskInternalCall422(t *testing.T) {
	e := newSimEnv(t, cxone.BackendMask, cxonesim.Options{})
	e.sim.StartInternalInteraction("agent-i")
	h := newHarness(t, e.be, fastConfig())
	h.open("agent-i", "ep-1", "")
	h.eventually("422 dropped and audited", func() bool { return strings.Contains(exportAudit(t, h), "cannot be masked") })
	time.Sleep(10 * fastConfig().PollIntervalPaused)
	h.quiet()
	if n := e.count("mask", ""); n != 1 {
		t.Errorf("%d mask calls for an internal call, want 1 (no retry storm)\n%s", n, e.callLog())
	}
	h.close("agent-i", "ep-1")
	h.quiet()
	if n := e.count("unmask", ""); n != 0 {
		t.Errorf("%d unmask calls for a call that was never masked", n)
	}
}
