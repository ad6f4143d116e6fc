package controller

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

// simEnv is the simulator and a real client of one back end talking to it over HTTPS.
type simEnv struct {
	t       testing.TB
	sim     *cxonesim.Server
	demo    cxonesim.Demo
	backend string
	be      cxone.Backend
	logs    *syncBuffer
}

var backends = []string{cxone.BackendWEMv1, cxone.BackendMask}

func newSimEnv(t *testing.T, backend string, o cxonesim.Options) *simEnv {
	return newSimEnvTB(t, backend, o)
}

func newSimEnvTB(t testing.TB, backend string, o cxonesim.Options) *simEnv {
	t.Helper()
	o.TLS = true
	if o.RateLimit == 0 {
		o.RateLimit = -1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := cxonesim.New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &simEnv{t: t, sim: s, demo: s.SeedDemo(), backend: backend, logs: &syncBuffer{}}
	// Keep a connection per worker: with Go's default of two idle connections per host, a
	// burst opens fresh TLS connections whose handshakes bunch requests together.
	hc := s.Client()
	if tr, ok := hc.Transport.(*http.Transport); ok {
		tr = tr.Clone()
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr, Timeout: hc.Timeout}
	}
	co := cxone.Options{Backend: backend, ClientID: e.demo.ClientID, ClientSecret: e.demo.ClientSecret,
		HTTPClient: hc, Timeout: 5 * time.Second, DiscoveryURL: s.URL()}
	switch backend {
	case cxone.BackendWEMv1:
		co.BaseURL, co.TokenURL = s.BaseURL(), s.TokenURL()
	case cxone.BackendMask:
		co.AccessKeyID, co.AccessKeySecret, co.TenantID = e.demo.AccessKeyID, e.demo.AccessKeySecret, s.TenantID()
	}
	c, err := cxone.NewClient(co, slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e.be = c
	return e
}

// call starts an interaction for agent with n recordings and returns their ids.
func (e *simEnv) call(agent string, n int) (string, []string) {
	in := e.sim.StartInteraction(agent)
	var recs []string
	for range n {
		recs = append(recs, e.sim.StartRecording(in))
	}
	return in, recs
}

// paused says whether CXone stopped capturing: the recording (wem-v1) or the agent's call
// (cxone-mask).
func (e *simEnv) paused(agent, rec string) bool {
	if e.backend == cxone.BackendMask {
		return e.sim.Masked(agent)
	}
	st, _ := e.sim.RecordingStatus(rec)
	return st == cxonesim.Paused
}

func (e *simEnv) recording(agent, rec string) bool {
	if e.backend == cxone.BackendMask {
		return !e.sim.Masked(agent)
	}
	st, _ := e.sim.RecordingStatus(rec)
	return st == cxonesim.Recording
}

// pauseOp and resumeOp are the simulator's names for the calls of this back end.
func (e *simEnv) pauseOp() string {
	if e.backend == cxone.BackendMask {
		return "mask"
	}
	return "pause"
}

func (e *simEnv) resumeOp() string {
	if e.backend == cxone.BackendMask {
		return "unmask"
	}
	return "resume"
}

// count counts answered calls of op (and target, when given).
func (e *simEnv) count(op, target string) int {
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Op == op && (target == "" || c.Target == target) {
			n++
		}
	}
	return n
}

func (e *simEnv) callLog() string {
	var b bytes.Buffer
	for _, c := range e.sim.Calls() {
		fmt.Fprintf(&b, "%s %s %s %d %s\n", c.Time.Format("15:04:05.000"), c.Op, c.Target, c.Status, c.Fault)
	}
	return b.String()
}

// pausedTarget is what the back end pauses for agent's recording rec.
func (e *simEnv) targetID(agent, rec string) string {
	if e.backend == cxone.BackendMask {
		return agent
	}
	return rec
}

// backendProbe wraps a Backend to look at the state file at the moment of each call.
type backendProbe struct {
	cxone.Backend
	onPause func(t cxone.Target)
}

func (p *backendProbe) Pause(ctx context.Context, t cxone.Target, r cxone.PauseRequest) error {
	if p.onPause != nil {
		p.onPause(t)
	}
	return p.Backend.Pause(ctx, t, r)
}
