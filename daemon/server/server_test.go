package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"pcipause/daemon/config"
	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/ipc"
)

// rig is a running service against the in-process simulator, with the test process itself
// playing the session helper over the real unix socket.
type rig struct {
	t    testing.TB
	sim  *cxonesim.Server
	demo cxonesim.Demo
	cfg  *config.Config
	stop func()
}

func newRig(t *testing.T) *rig { return newRigTB(t, nil) }

func newRigTB(t testing.TB, tweak func(*config.Config), opts ...func(*Options)) *rig {
	t.Helper()
	sim := cxonesim.New(cxonesim.Options{})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	demo := sim.SeedDemo()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.CXone.Backend = cxone.BackendWEMv1
	cfg.CXone.BaseURL, cfg.CXone.TokenURL, cfg.CXone.ClientID = sim.BaseURL(), sim.TokenURL(), demo.ClientID
	cfg.Agents.Mapping = config.MappingStatic
	cfg.Agents.Users = map[string]string{u.Username: demo.AgentID}
	cfg.Paths.StateDir = filepath.Join(dir, "state")
	cfg.Paths.Socket = filepath.Join(dir, "run", "ipc.sock")
	if err := os.MkdirAll(filepath.Dir(cfg.Paths.Socket), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Controller.HelperGrace = config.Dur(300 * time.Millisecond)
	cfg.Controller.HoldDown = config.Dur(200 * time.Millisecond)
	cfg.Controller.PollIntervalPaused = config.Dur(200 * time.Millisecond)
	if tweak != nil {
		tweak(cfg)
	}
	be, err := cxone.New(cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: sim.BaseURL(), TokenURL: sim.TokenURL(),
		ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, HTTPClient: sim.Client()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	o := Options{Config: cfg, Backend: be, Authorizer: ipc.AllowUIDs(os.Getuid()), NoSupervise: true,
		Ready: func() { close(ready) }}
	for _, f := range opts {
		f(&o)
	}
	go func() { done <- Run(ctx, o) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("service did not start: %v", err)
	}
	r := &rig{t: t, sim: sim, demo: demo, cfg: cfg}
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
		if c, ok := be.(interface{ Close() }); ok {
			c.Close()
		}
		sim.Close()
	}
	t.Cleanup(r.stop)
	return r
}

// waitFor polls cond; the deadline is generous because it only bounds a hang, it measures nothing.
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) status() string {
	s, _ := r.sim.RecordingStatus(r.demo.RecordingID)
	return s
}

func (r *rig) lastCall(op string) (cxonesim.Call, bool) {
	calls := r.sim.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == op && calls[i].Status/100 == 2 {
			return calls[i], true
		}
	}
	return cxonesim.Call{}, false
}

// helperConn is the test playing a session helper.
type helperConn struct {
	c      *ipc.Client
	cancel func()
	done   chan struct{}
	mu     sync.Mutex
	msgs   []ipc.Msg
}

func (r *rig) connectHelper() *helperConn {
	h := &helperConn{done: make(chan struct{})}
	h.c = ipc.NewClient(r.cfg.Paths.Socket, ipc.Hello{PID: os.Getpid(), SessionID: "test", Display: ":test", Version: "test"}, nil)
	h.c.HeartbeatInterval = 100 * time.Millisecond
	h.c.OnMessage = func(m ipc.Msg) { h.mu.Lock(); h.msgs = append(h.msgs, m); h.mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { defer close(h.done); _ = h.c.Run(ctx) }()
	r.waitFor("helper connected", h.c.Connected)
	return h
}

func (h *helperConn) close() { h.cancel(); <-h.done }

func (h *helperConn) welcome() (ipc.Welcome, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if w, ok := m.(ipc.Welcome); ok {
			return w, true
		}
	}
	return ipc.Welcome{}, false
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFailClosedNoHelper: an agent whose recording runs with no session helper connected is
// paused with MASKING_AGENT_DOWN after helper_grace, and resumed once a helper is back.
func TestFailClosedNoHelper(t *testing.T) {
	r := newRig(t)
	r.waitFor("pause after the grace period", func() bool { return r.status() == cxonesim.Paused })
	c, ok := r.lastCall("pause")
	if !ok || c.Reason != ReasonMaskingAgentDown {
		t.Fatalf("pause reason = %q, want %s", c.Reason, ReasonMaskingAgentDown)
	}
	h := r.connectHelper()
	defer h.close()
	r.waitFor("resume once the helper is back", func() bool { return r.status() == cxonesim.Recording })
}

// TestFailClosedHelperKilled: a helper that goes away (killed: its connection drops) gets its
// agent paused with MASKING_AGENT_DOWN.
func TestFailClosedHelperKilled(t *testing.T) {
	r := newRig(t)
	h := r.connectHelper()
	r.waitFor("recording", func() bool { return r.status() == cxonesim.Recording })
	h.close()
	r.waitFor("pause after the helper vanished", func() bool { return r.status() == cxonesim.Paused })
	if c, _ := r.lastCall("pause"); c.Reason != ReasonMaskingAgentDown {
		t.Fatalf("pause reason = %q, want %s", c.Reason, ReasonMaskingAgentDown)
	}
}

// TestPCIWindowPausesAndResumes drives one episode through the real IPC path.
func TestPCIWindowPausesAndResumes(t *testing.T) {
	r := newRig(t)
	h := r.connectHelper()
	defer h.close()
	if err := h.c.Send(ipc.PCIOpen{Episode: 1, Field: "credit_card_number", Kind: "pan", Confirmed: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("pause", func() bool { return r.status() == cxonesim.Paused })
	if c, _ := r.lastCall("pause"); c.Reason != "PCI_DATA_DETECTED" || c.Metadata["pciField"] != "credit_card_number" {
		t.Fatalf("pause call = %+v", c)
	}
	if err := h.c.Send(ipc.PCIClose{Episode: 1, At: time.Now(), Reason: "cleared"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("resume after the hold-down", func() bool { return r.status() == cxonesim.Recording })
	if c, _ := r.lastCall("resume"); c.Reason != "PCI_DATA_CLEARED" {
		t.Fatalf("resume reason = %q", c.Reason)
	}
}

// TestKilledHelperWindowsHandedOver: a helper dies with a PCI window open. The recording must
// not resume when a new helper connects; the new helper is told to mask (Welcome.Inherited)
// and its own window takes over, whose close finally resumes.
func TestKilledHelperWindowsHandedOver(t *testing.T) {
	r := newRig(t)
	h := r.connectHelper()
	if err := h.c.Send(ipc.PCIOpen{Episode: 7, Field: "credit_card_number", Kind: "pan", Confirmed: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("pause", func() bool { return r.status() == cxonesim.Paused })
	h.close()
	r.waitFor("the service to notice the helper is gone", func() bool { return r.helpers() == 0 })
	h2 := r.connectHelper()
	defer h2.close()
	r.waitFor("welcome", func() bool { _, ok := h2.welcome(); return ok })
	if w, _ := h2.welcome(); w.Inherited != 1 {
		t.Fatalf("Welcome.Inherited = %d, want 1", w.Inherited)
	}
	// Several hold-downs and reconcile rounds pass: the orphaned window keeps it paused.
	time.Sleep(1500 * time.Millisecond)
	if _, ok := r.lastCall("resume"); ok || r.status() != cxonesim.Paused {
		t.Fatalf("resumed while the dead helper's card data may still be on screen (status %s)", r.status())
	}
	if err := h2.c.Send(ipc.PCIOpen{Episode: 1, Field: "credit_card_number", Kind: "inherited", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h2.c.Send(ipc.PCIClose{Episode: 1, At: time.Now(), Reason: "cleared"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("resume after the new helper cleared", func() bool { return r.status() == cxonesim.Recording })
}

func (r *rig) helpers() int {
	r.t.Helper()
	doc, err := r.statusDoc()
	if err != nil {
		r.t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(doc, &st); err != nil {
		r.t.Fatal(err)
	}
	return len(st.Helpers)
}

func (r *rig) statusDoc() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, r.cfg.Paths.Socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Send(ipc.StatusRequest{}); err != nil {
		return nil, err
	}
	m, err := c.Recv()
	if err != nil {
		return nil, err
	}
	st, ok := m.(ipc.Status)
	if !ok {
		return nil, fmt.Errorf("reply %T", m)
	}
	return st.Status, nil
}

// TestStatusDocument reads `status --json`'s document from the running service.
func TestStatusDocument(t *testing.T) {
	r := newRig(t)
	h := r.connectHelper()
	defer h.close()
	// The service welcomes a helper before it lists it (helperUp runs after the Welcome), so
	// the document may lag the helper's Connected by a moment: read until it lists one.
	var raw json.RawMessage
	var err error
	r.waitFor("the helper listed in the status document", func() bool {
		var doc Status
		raw, err = r.statusDoc()
		return err != nil || (json.Unmarshal(raw, &doc) == nil && len(doc.Helpers) > 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	st := ipc.Status{Status: raw}
	if strings.Contains(string(st.Status), r.demo.ClientSecret) {
		t.Fatal("status document holds the client secret")
	}
	var doc Status
	if err := json.Unmarshal(st.Status, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Service.State != "running" || doc.Service.Backend != cxone.BackendWEMv1 || len(doc.Helpers) != 1 ||
		doc.Helpers[0].AgentID != r.demo.AgentID || doc.Helpers[0].PID != os.Getpid() {
		t.Fatalf("status = %+v", doc)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(st.Status, &keys)
	for _, k := range []string{"service", "helpers", "pci_windows", "targets", "paused", "queue_depth", "rate_limit", "degraded"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("status document lacks %q", k)
		}
	}
}
