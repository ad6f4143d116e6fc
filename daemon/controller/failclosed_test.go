package controller

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/store"
)

// A state file that cannot be used is moved aside; the service keeps running and pauses.
func TestCorruptStateFileRecoveredKeepsPausing(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	_, recs := e.call("agent-c", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xde, 0xad}, 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, path: path, logs: &syncBuffer{}}
	h.start(e.be, fastConfig())
	t.Cleanup(h.stop)
	if h.st.MovedAside() == "" {
		t.Fatal("garbage state file was not moved aside")
	}
	h.open("agent-c", "ep-1", "")
	h.eventually("paused on the fresh state file", func() bool { return e.paused("agent-c", recs[0]) })
	if !strings.Contains(exportAudit(t, h), "moved to") {
		t.Error("audit does not say the file was moved aside")
	}
}

// A store write error is surfaced to the caller and in the snapshot, and the pause still
// happens: the mask stays, nothing fails open.
func TestStoreWriteErrorFailsClosed(t *testing.T) {
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	_, recs := e.call("agent-w", 1)
	h := newHarness(t, e.be, fastConfig())
	h.st.Close() // every later write fails
	err := h.c.Open(context.Background(), Open{AgentID: "agent-w", Episode: "ep-1", Reason: ReasonPCIDetected})
	if err == nil {
		t.Fatal("Open reported success without a durable intent")
	}
	h.eventually("paused despite the store error", func() bool { return e.paused("agent-w", recs[0]) })
	if s := h.c.Snapshot(); s.LastError == "" || len(s.Windows) != 1 {
		t.Errorf("snapshot hides the failure: last error %q, windows %d", s.LastError, len(s.Windows))
	}
	if err := h.c.Close(context.Background(), Close{AgentID: "agent-w", Episode: "ep-1"}); err == nil {
		t.Error("Close reported success without a durable record")
	}
}
