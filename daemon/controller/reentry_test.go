package controller

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/store"
)

// getProbe signals every answered Get.
type getProbe struct {
	cxone.Backend
	got chan struct{}
}

func (p *getProbe) Get(ctx context.Context, t cxone.Target) (cxone.State, error) {
	s, err := p.Backend.Get(ctx, t)
	select {
	case p.got <- struct{}{}:
	default:
	}
	return s, err
}

// holdCommit queues a commit whose transaction blocks until release is called, holding the
// goroutine that leads the store's group commit. running is closed once it blocks.
func holdCommit(wg *sync.WaitGroup, st *store.Store) (running <-chan struct{}, release func()) {
	run, rel := make(chan struct{}), make(chan struct{})
	var blocked, released sync.Once
	wg.Go(func() {
		st.Commit(func(*store.Tx) error {
			blocked.Do(func() { close(run); <-rel })
			return nil
		})
	})
	return run, func() { released.Do(func() { close(rel) }) }
}

// TestReentryWhileOpenCommits: an agent goes back into a card field while the hold-down still
// runs, so the recording must stay paused. Open used to make the window visible to the workers
// only after its commit returned, and the store's group commit returns to the caller that
// leads it only once the queue is empty; while other commits kept coming the leader's Open
// stayed unregistered, the hold-down ran out in that gap and the worker resumed the recording
// of an agent whose window was open. Here the queue is kept busy on purpose; an Open in
// progress now counts as open.
func TestReentryWhileOpenCommits(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	_, recs := e.call("agent-r", 1)
	probe := &getProbe{Backend: e.be, got: make(chan struct{}, 1)}
	var inOpen atomic.Pointer[func()] // runs inside the Open's transaction, when it stamps its audit record
	now := func() time.Time {
		if f := inOpen.Swap(nil); f != nil {
			(*f)()
		}
		return time.Now()
	}
	cfg := fastConfig()
	cfg.HoldDown, cfg.PollIntervalPaused = 300*time.Millisecond, time.Hour
	h := &harness{t: t, path: filepath.Join(t.TempDir(), store.FileName), storeOpts: store.Options{Now: now}, logs: &syncBuffer{}}
	h.start(probe, cfg)
	t.Cleanup(h.stop)
	var wg sync.WaitGroup
	defer wg.Wait()

	h.open("agent-r", "card", "")
	h.eventually("paused", func() bool { return e.paused("agent-r", recs[0]) })
	h.quiet()
	closed := time.Now()
	h.close("agent-r", "card")
	time.Sleep(50 * time.Millisecond)

	// 1. The Open leads the group commit; while its own transaction runs, a blocking commit
	// queues behind it, so after its batch the Open's goroutine runs that one and is held.
	var heldRunning <-chan struct{}
	var releaseHeld func()
	queued := make(chan struct{})
	hold := func() {
		heldRunning, releaseHeld = holdCommit(&wg, h.st)
		time.Sleep(30 * time.Millisecond)
		close(queued)
	}
	inOpen.Store(&hold)
	opened := time.Now()
	openDone := make(chan error, 1)
	wg.Go(func() {
		openDone <- h.c.Open(context.Background(), Open{AgentID: "agent-r", Episode: "cvv", Reason: ReasonPCIDetected})
	})
	<-queued
	defer func() { releaseHeld() }()
	<-heldRunning
	select {
	case err := <-openDone:
		t.Fatalf("Open returned (%v) before the scene was set; the store no longer holds its leader", err)
	default:
	}

	// 2. The hold-down runs out: the worker reads the recording (PAUSED) and queues its
	// commit. One more commit joins that batch and, while it runs, queues another blocking
	// commit, so the Open's goroutine is still busy after the worker's commit returned.
	// Fixed, the worker sees the Open in progress and does not even read the recording; the
	// scene goes on either way.
	select {
	case <-probe.got:
	case <-time.After(time.Until(closed.Add(cfg.HoldDown)) + 500*time.Millisecond):
	}
	time.Sleep(30 * time.Millisecond)
	secondRelease := make(chan func(), 1)
	wg.Go(func() {
		var once sync.Once
		h.st.Commit(func(*store.Tx) error {
			once.Do(func() {
				_, rel := holdCommit(&wg, h.st)
				secondRelease <- rel
				time.Sleep(30 * time.Millisecond)
			})
			return nil
		})
	})
	time.Sleep(10 * time.Millisecond)
	releaseHeld()
	releaseSecond := <-secondRelease
	defer releaseSecond()

	resumed := waitSim(3*time.Second, func() bool { return e.recording("agent-r", recs[0]) })
	releaseSecond()
	if err := <-openDone; err != nil {
		t.Fatal(err)
	}
	h.eventually("paused again", func() bool { return e.paused("agent-r", recs[0]) })
	for _, c := range e.sim.Calls() {
		if c.Op == "resume" && c.Status == 200 && c.Time.After(opened) {
			t.Errorf("resume answered %s after Open was called %s into a %s hold-down: the window was open (recording seen resumed: %v)",
				c.Time.Sub(opened).Round(time.Millisecond), opened.Sub(closed).Round(time.Millisecond), cfg.HoldDown, resumed)
		}
	}
}
