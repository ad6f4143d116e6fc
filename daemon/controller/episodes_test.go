package controller

import (
	"testing"
	"time"

	"pcipause/daemon/cxone"
)

// TestBackToBackEpisodesListOnce: an agent's second PCI episode, after the first was resumed,
// pauses without listing again while the listing is fresh; it used to list before every pause
// because the scheduled poll after the resume was still pending when the episode came.
func TestBackToBackEpisodesListOnce(t *testing.T) {
	be := newFake()
	be.add("a1", "i1", "r1")
	cfg := fastConfig()
	cfg.PollInterval, cfg.PollIntervalPaused = time.Hour, time.Hour
	h := newHarness(t, be, cfg)
	for _, ep := range []string{"e1", "e2", "e3"} {
		h.open("a1", ep, "")
		h.eventually("r1 paused in "+ep, func() bool { return be.status("r1") == cxone.StatusPaused })
		h.close("a1", ep)
		h.eventually("r1 recording after "+ep, func() bool { return be.status("r1") == cxone.StatusRecording })
	}
	h.quiet()
	lists := 0
	for _, c := range be.log() {
		if c.Op == "list" {
			lists++
		}
	}
	if lists != 1 || be.count("pause", "r1") != 3 || be.count("resume", "r1") != 3 {
		t.Errorf("calls %v: want one list, three pauses and three resumes", be.log())
	}
}
