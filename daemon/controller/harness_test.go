package controller

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"pcipause/daemon/cxone"
	"pcipause/daemon/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink tests can scan.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t         testing.TB
	st        *store.Store
	c         *Controller
	path      string
	storeOpts store.Options // how start opens the state file
	logs      *syncBuffer
	cancel    context.CancelFunc
	done      chan error
}

// fastConfig keeps every wait in the tests short; none of them is asserted on.
func fastConfig() Config {
	return Config{Rate: 1000, Burst: 100, HoldDown: 20 * time.Millisecond, RefreshInterval: time.Hour,
		PollInterval: time.Hour, PollIntervalPaused: 20 * time.Millisecond, BaseBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, CallTimeout: 5 * time.Second, Workers: 4, Seed: 1}
}

func newHarness(t *testing.T, be cxone.Backend, cfg Config) *harness {
	return newHarnessTB(t, be, cfg)
}

func newHarnessTB(t testing.TB, be cxone.Backend, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "state.db"), logs: &syncBuffer{}}
	h.start(be, cfg)
	t.Cleanup(h.stop)
	return h
}

func (h *harness) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (h *harness) start(be cxone.Backend, cfg Config) {
	h.t.Helper()
	st, err := store.Open(h.path, h.storeOpts, h.logger())
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.st = st
	h.c = New(st, be, cfg, h.logger())
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.c.Run(ctx) }()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run returned %v", err)
	}
	h.cancel = nil
	h.st.Close()
}

// eventually waits for cond; the deadline only guards against a hung test and is never the
// thing under test.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s := h.c.Snapshot()
			h.t.Fatalf("timed out waiting for: %s\nwindows=%d targets=%d paused=%d queue=%d limiter=%+v last error=%q",
				what, len(s.Windows), len(s.Targets), s.Paused, s.QueueDepth, s.Limiter, s.LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// quiet waits until the controller has nothing due now (all work done or parked on a timer).
func (h *harness) quiet() {
	h.t.Helper()
	h.eventually("controller idle", func() bool { return h.c.Snapshot().QueueDepth == 0 })
}

func (h *harness) open(agent, episode, interaction string) {
	h.t.Helper()
	err := h.c.Open(context.Background(), Open{AgentID: agent, Episode: episode, InteractionID: interaction,
		Field: "credit_card_number", Rule: "PCI-DSS-Req-3.4", Kind: "field-rule", Reason: ReasonPCIDetected})
	if err != nil {
		h.t.Fatalf("open: %v", err)
	}
}

func (h *harness) close(agent, episode string) {
	h.t.Helper()
	if err := h.c.Close(context.Background(), Close{AgentID: agent, Episode: episode, Reason: "cleared"}); err != nil {
		h.t.Fatalf("close: %v", err)
	}
}

func (h *harness) verifyAudit() int {
	h.t.Helper()
	n, err := h.st.Verify()
	if err != nil {
		h.t.Fatalf("audit verify: %v", err)
	}
	return n
}
