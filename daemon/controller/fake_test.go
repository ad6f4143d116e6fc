package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"pcipause/daemon/cxone"
)

// fakeBackend is an in-memory Backend with scripted failures, used where a test needs exact
// control over one answer. The guide scenarios run against the simulator (sim_test.go).
type fakeBackend struct {
	mu     sync.Mutex
	name   string
	recs   map[string]*fakeRec // by id
	calls  []fakeCall
	script map[string][]error // op → errors returned by the next calls, in order
	onCall func(op string, t cxone.Target)
}

type fakeRec struct {
	t       cxone.Target
	status  cxone.Status
	pending int // Get answers Pending this many more times
}

type fakeCall struct {
	Op     string
	Target string
	Agent  string
	Reason string
	Field  string
	At     time.Time
}

func newFake() *fakeBackend {
	return &fakeBackend{name: cxone.BackendWEMv1, recs: map[string]*fakeRec{}, script: map[string][]error{}}
}

func (f *fakeBackend) Name() string { return f.name }

func (f *fakeBackend) add(agent, interaction, id string) cxone.Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := cxone.Target{Kind: cxone.KindRecording, ID: id, AgentID: agent, InteractionID: interaction}
	f.recs[id] = &fakeRec{t: t, status: cxone.StatusRecording}
	return t
}

func (f *fakeBackend) end(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.recs[id]; r != nil {
		r.status = cxone.StatusEnded
	}
}

func (f *fakeBackend) status(id string) cxone.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.recs[id]; r != nil {
		return r.status
	}
	return ""
}

func (f *fakeBackend) fail(op string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[op] = append(f.script[op], errs...)
}

func (f *fakeBackend) count(op, target string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Op == op && (target == "" || c.Target == target) {
			n++
		}
	}
	return n
}

func (f *fakeBackend) log() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeBackend) record(op string, t cxone.Target, reason, field string) error {
	f.calls = append(f.calls, fakeCall{Op: op, Target: t.ID, Agent: t.AgentID, Reason: reason, Field: field, At: time.Now()})
	if f.onCall != nil {
		f.onCall(op, t)
	}
	if q := f.script[op]; len(q) > 0 {
		f.script[op] = q[1:]
		return q[0]
	}
	return nil
}

func apiErr(op string, code int, kind error, retry time.Duration) error {
	return &cxone.APIError{Op: op, StatusCode: code, Kind: kind, RetryAfter: retry}
}

func (f *fakeBackend) ListActive(ctx context.Context, agentID string) ([]cxone.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("list", cxone.Target{AgentID: agentID}, "", ""); err != nil {
		return nil, err
	}
	var out []cxone.Target
	for _, r := range f.recs {
		if r.t.AgentID == agentID && (r.status == cxone.StatusRecording || r.status == cxone.StatusPaused) {
			out = append(out, r.t)
		}
	}
	return out, nil
}

func (f *fakeBackend) Get(ctx context.Context, t cxone.Target) (cxone.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("get", t, "", ""); err != nil {
		return cxone.State{}, err
	}
	r := f.recs[t.ID]
	if r == nil {
		return cxone.State{Status: cxone.StatusEnded}, apiErr("get", 404, cxone.ErrNotFound, 0)
	}
	if r.pending > 0 {
		r.pending--
		return cxone.State{Status: r.status, Pending: true}, nil
	}
	return cxone.State{Status: r.status}, nil
}

func (f *fakeBackend) change(op string, t cxone.Target, from, to cxone.Status, reason, field string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(op, t, reason, field); err != nil {
		return err
	}
	r := f.recs[t.ID]
	if r == nil {
		return apiErr(op, 404, cxone.ErrNotFound, 0)
	}
	if r.status == cxone.StatusEnded {
		return apiErr(op, 409, cxone.ErrConflict, 0)
	}
	if r.status != from {
		return apiErr(op, 409, cxone.ErrConflict, 0)
	}
	r.status = to
	return nil
}

func (f *fakeBackend) Pause(ctx context.Context, t cxone.Target, r cxone.PauseRequest) error {
	return f.change("pause", t, cxone.StatusRecording, cxone.StatusPaused, r.Reason, r.Field)
}

func (f *fakeBackend) Resume(ctx context.Context, t cxone.Target, r cxone.ResumeRequest) error {
	return f.change("resume", t, cxone.StatusPaused, cxone.StatusRecording, r.Reason, "")
}

var _ cxone.Backend = (*fakeBackend)(nil)

func (c fakeCall) String() string { return fmt.Sprintf("%s %s", c.Op, c.Target) }
