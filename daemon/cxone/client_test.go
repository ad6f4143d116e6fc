package cxone_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"pcipause/daemon/buildinfo"
	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time source shared by the simulator (purge, expiry, mask delay).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	sim  *cxonesim.Server
	demo cxonesim.Demo
	clk  *clock
	logs *bytes.Buffer
}

func newEnv(t *testing.T, o cxonesim.Options) *env {
	t.Helper()
	clk := &clock{t: time.Now()}
	if o.Now == nil {
		o.Now = clk.Now
	}
	o.TLS = true
	if o.RateLimit == 0 {
		o.RateLimit = -1
	}
	s := cxonesim.New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &env{sim: s, demo: s.SeedDemo(), clk: clk, logs: &bytes.Buffer{}}
}

// client builds a client of the given back end against the simulator over real HTTPS.
func (e *env) client(t *testing.T, backend string, mod func(*cxone.Options)) *cxone.Client {
	t.Helper()
	o := cxone.Options{Backend: backend, ClientID: e.demo.ClientID, ClientSecret: e.demo.ClientSecret,
		HTTPClient: e.sim.Client(), Timeout: 5 * time.Second, DiscoveryURL: e.sim.URL()}
	switch backend {
	case cxone.BackendWEMv1:
		o.BaseURL, o.TokenURL = e.sim.BaseURL(), e.sim.TokenURL()
	case cxone.BackendMask:
		o.AccessKeyID, o.AccessKeySecret, o.TenantID = e.demo.AccessKeyID, e.demo.AccessKeySecret, e.sim.TenantID()
	}
	if mod != nil {
		mod(&o)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := cxone.NewClient(o, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func rec(id string) cxone.Target  { return cxone.Target{Kind: cxone.KindRecording, ID: id} }
func user(id string) cxone.Target { return cxone.Target{Kind: cxone.KindUser, ID: id} }

var (
	pauseReq  = cxone.PauseRequest{Reason: "PCI_DATA_DETECTED", Field: "credit_card_number", ComplianceRule: "PCI-DSS-Req-3.4", DetectionTimestamp: time.Date(2023, 10, 27, 14, 32, 1, 123e6, time.UTC)}
	resumeReq = cxone.ResumeRequest{Reason: "PCI_DATA_CLEARED", ClearTimestamp: time.Date(2023, 10, 27, 14, 32, 5, 456e6, time.UTC)}
)

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
	var ae *cxone.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not *cxone.APIError", err)
	}
}

// TestWEMStateMachineContract drives every transition of the guide's RECORDING/PAUSED/ENDED
// machine through the client and checks the answer and the state after it.
func TestWEMStateMachineContract(t *testing.T) {
	tests := []struct {
		name     string
		from     string // RECORDING, PAUSED, ENDED, unknown, purged
		op       string
		wantErr  error
		wantCode int
		after    string
	}{
		{"pause RECORDING -> PAUSED", "RECORDING", "pause", nil, 0, "PAUSED"},
		{"pause PAUSED -> 409", "PAUSED", "pause", cxone.ErrConflict, 409, "PAUSED"},
		{"pause ENDED -> 409", "ENDED", "pause", cxone.ErrConflict, 409, "ENDED"},
		{"resume PAUSED -> RECORDING", "PAUSED", "resume", nil, 0, "RECORDING"},
		{"resume RECORDING -> 409", "RECORDING", "resume", cxone.ErrConflict, 409, "RECORDING"},
		{"resume ENDED -> 409", "ENDED", "resume", cxone.ErrConflict, 409, "ENDED"},
		{"pause unknown -> 404", "unknown", "pause", cxone.ErrNotFound, 404, ""},
		{"resume unknown -> 404", "unknown", "resume", cxone.ErrNotFound, 404, ""},
		{"pause purged -> 404", "purged", "pause", cxone.ErrNotFound, 404, ""},
		{"resume purged -> 404", "purged", "resume", cxone.ErrNotFound, 404, ""},
		{"get RECORDING", "RECORDING", "get", nil, 0, "RECORDING"},
		{"get PAUSED", "PAUSED", "get", nil, 0, "PAUSED"},
		{"get ENDED", "ENDED", "get", nil, 0, "ENDED"},
		{"get unknown -> 404 ENDED", "unknown", "get", cxone.ErrNotFound, 404, ""},
		{"get purged -> 404 ENDED", "purged", "get", cxone.ErrNotFound, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cxonesim.Options{PurgeAfter: time.Minute})
			c := e.client(t, cxone.BackendWEMv1, nil)
			ctx := context.Background()
			id := e.demo.RecordingID
			switch tc.from {
			case "PAUSED":
				wantKind(t, c.Pause(ctx, rec(id), pauseReq), nil)
			case "ENDED":
				e.sim.EndRecording(id)
			case "unknown":
				id = "rec-does-not-exist"
			case "purged":
				e.sim.EndRecording(id)
				e.clk.Add(time.Minute)
			}
			var err error
			var st cxone.State
			switch tc.op {
			case "pause":
				err = c.Pause(ctx, rec(id), pauseReq)
			case "resume":
				err = c.Resume(ctx, rec(id), resumeReq)
			case "get":
				st, err = c.Get(ctx, rec(id))
				if err == nil && string(st.Status) != tc.after {
					t.Errorf("Get status %s, want %s", st.Status, tc.after)
				}
				if errors.Is(err, cxone.ErrNotFound) && st.Status != cxone.StatusEnded {
					t.Errorf("Get on 404 returned %s, want ENDED", st.Status)
				}
			}
			wantKind(t, err, tc.wantErr)
			var ae *cxone.APIError
			if errors.As(err, &ae) && ae.StatusCode != tc.wantCode {
				t.Errorf("StatusCode %d, want %d", ae.StatusCode, tc.wantCode)
			}
			if got, ok := e.sim.RecordingStatus(id); tc.after != "" && (!ok || got != tc.after) {
				t.Errorf("simulator says %q, want %q", got, tc.after)
			}
		})
	}
}

// TestWEMBodiesAreTheGuides checks the exact pause/resume JSON and that the simulator's log
// recorded reason and metadata as sent.
func TestWEMBodiesAreTheGuides(t *testing.T) {
	body, err := cxone.PauseBody(pauseReq)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"reason":"PCI_DATA_DETECTED","metadata":{"pciField":"credit_card_number","detectionTimestamp":"2023-10-27T14:32:01.123Z","complianceRule":"PCI-DSS-Req-3.4"}}`; string(body) != want {
		t.Errorf("pause body\n got %s\nwant %s", body, want)
	}
	body, err = cxone.ResumeBody(resumeReq)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"reason":"PCI_DATA_CLEARED","metadata":{"clearTimestamp":"2023-10-27T14:32:05.456Z"}}`; string(body) != want {
		t.Errorf("resume body\n got %s\nwant %s", body, want)
	}
	// A non-UTC time with nanoseconds is rendered in UTC with exactly three decimals.
	local := time.Date(2023, 10, 27, 16, 32, 1, 123456789, time.FixedZone("CEST", 7200))
	if got := cxone.FormatTimestamp(local); got != "2023-10-27T14:32:01.123Z" {
		t.Errorf("FormatTimestamp = %s", got)
	}

	e := newEnv(t, cxonesim.Options{})
	c := e.client(t, cxone.BackendWEMv1, nil)
	ctx := context.Background()
	wantKind(t, c.Pause(ctx, rec(e.demo.RecordingID), pauseReq), nil)
	wantKind(t, c.Resume(ctx, rec(e.demo.RecordingID), resumeReq), nil)
	var got []string
	for _, call := range e.sim.Calls() {
		if call.Op == "pause" || call.Op == "resume" {
			got = append(got, fmt.Sprintf("%s %d %s %v", call.Op, call.Status, call.Reason, call.Metadata))
			if call.RequestID == "" {
				t.Errorf("%s sent without X-Request-Id", call.Op)
			}
		}
	}
	want := []string{
		"pause 200 PCI_DATA_DETECTED map[complianceRule:PCI-DSS-Req-3.4 detectionTimestamp:2023-10-27T14:32:01.123Z pciField:credit_card_number]",
		"resume 200 PCI_DATA_CLEARED map[clearTimestamp:2023-10-27T14:32:05.456Z]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("simulator log\n got %q\nwant %q", got, want)
	}
}

func TestPauseBodyRefusesCardData(t *testing.T) {
	for _, field := range []string{"4111111111111111", "5500 0055 5555 5559", "card 340000000000009"} {
		if _, err := cxone.PauseBody(cxone.PauseRequest{Field: field}); err == nil {
			t.Errorf("PauseBody accepted a field holding a PAN")
		} else if strings.ContainsAny(err.Error(), "0123456789") {
			t.Errorf("error echoes digits: %v", err)
		}
	}
}

func TestWEMListActive(t *testing.T) {
	e := newEnv(t, cxonesim.Options{})
	c := e.client(t, cxone.BackendWEMv1, nil)
	ctx := context.Background()
	agent := e.demo.AgentID
	in2 := e.sim.StartInteraction(agent)
	r2 := e.sim.StartRecording(in2)
	r3 := e.sim.StartRecording(in2)
	r4 := e.sim.StartRecording(in2)
	e.sim.StartRecording(e.sim.StartInteraction("someone-else"))
	wantKind(t, c.Pause(ctx, rec(r3), pauseReq), nil)
	e.sim.EndRecording(r4)
	got, err := c.ListActive(ctx, agent)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{e.demo.RecordingID: e.demo.InteractionID, r2: in2, r3: in2}
	if len(got) != len(want) {
		t.Fatalf("ListActive = %v, want ids %v", got, want)
	}
	for _, tg := range got {
		if tg.Kind != cxone.KindRecording || want[tg.ID] != tg.InteractionID || tg.AgentID != agent {
			t.Errorf("unexpected target %+v", tg)
		}
	}
	got, err = c.ListActive(ctx, "agent-without-recordings")
	if err != nil || len(got) != 0 {
		t.Fatalf("ListActive(no recordings) = %v, %v", got, err)
	}
}

// TestForbiddenNamesScope: a client missing one scope gets 403 on exactly the ops that need
// it, and the error names the scope.
func TestForbiddenNamesScope(t *testing.T) {
	all := []string{cxone.ScopePause, cxone.ScopeControl, cxone.ScopeRead}
	for _, missing := range all {
		t.Run(missing, func(t *testing.T) {
			e := newEnv(t, cxonesim.Options{})
			var granted []string
			for _, s := range all {
				if s != missing {
					granted = append(granted, s)
				}
			}
			e.sim.AddClient("limited", "limited-secret", granted...)
			c := e.client(t, cxone.BackendWEMv1, func(o *cxone.Options) { o.ClientID, o.ClientSecret = "limited", "limited-secret" })
			ctx := context.Background()
			ops := map[string]func() error{
				cxone.ScopePause:   func() error { return c.Pause(ctx, rec(e.demo.RecordingID), pauseReq) },
				cxone.ScopeControl: func() error { return c.Resume(ctx, rec(e.demo.RecordingID), resumeReq) },
				cxone.ScopeRead:    func() error { _, err := c.Get(ctx, rec(e.demo.RecordingID)); return err },
			}
			err := ops[missing]()
			wantKind(t, err, cxone.ErrForbidden)
			var ae *cxone.APIError
			errors.As(err, &ae)
			if ae.Scope != missing || !strings.Contains(err.Error(), missing) || ae.StatusCode != 403 {
				t.Errorf("error %q (scope %q), want it to name %s", err, ae.Scope, missing)
			}
			if missing == cxone.ScopeRead {
				_, err := c.ListActive(ctx, e.demo.AgentID)
				wantKind(t, err, cxone.ErrForbidden)
			}
		})
	}
}

func TestUnauthorizedContract(t *testing.T) {
	t.Run("expired token refreshed once and retried", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendWEMv1, nil)
		ctx := context.Background()
		if _, err := c.Get(ctx, rec(e.demo.RecordingID)); err != nil {
			t.Fatal(err)
		}
		e.sim.ExpireTokens()
		e.sim.ResetCalls()
		if _, err := c.Get(ctx, rec(e.demo.RecordingID)); err != nil {
			t.Fatalf("Get after expiry: %v", err)
		}
		var seq []string
		for _, call := range e.sim.Calls() {
			seq = append(seq, fmt.Sprintf("%s %d", call.Op, call.Status))
		}
		if got := strings.Join(seq, ","); got != "get 401,token 200,get 200" {
			t.Errorf("calls %s, want one 401, one token refresh, one retry", got)
		}
	})
	t.Run("401 after refresh is ErrUnauthorized", func(t *testing.T) {
		// Tokens that the API already considers expired while the client thinks them valid.
		e := newEnv(t, cxonesim.Options{TokenLifetime: -time.Second})
		c := e.client(t, cxone.BackendWEMv1, nil)
		_, err := c.Get(context.Background(), rec(e.demo.RecordingID))
		wantKind(t, err, cxone.ErrUnauthorized)
		n := 0
		for _, call := range e.sim.Calls() {
			if call.Op == "get" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d get calls, want exactly 2 (one retry after one refresh)", n)
		}
	})
	for _, backend := range []string{cxone.BackendWEMv1, cxone.BackendMask} {
		t.Run("wrong client secret "+backend, func(t *testing.T) {
			e := newEnv(t, cxonesim.Options{})
			c := e.client(t, backend, func(o *cxone.Options) { o.ClientSecret = "wrong-secret-value" })
			err := c.Pause(context.Background(), e.target(backend), pauseReq)
			wantKind(t, err, cxone.ErrUnauthorized)
			var ae *cxone.APIError
			errors.As(err, &ae)
			if ae.Op != "token" || ae.StatusCode != 401 || !strings.Contains(err.Error(), "invalid_client") {
				t.Errorf("error %q, want a token 401 invalid_client", err)
			}
			if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(e.logs.String(), "wrong-secret-value") {
				t.Error("secret leaked into the error or the log")
			}
		})
	}
	t.Run("wrong access key secret", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, func(o *cxone.Options) { o.AccessKeySecret = "bad-key-secret" })
		_, err := c.Get(context.Background(), user(e.demo.AgentID))
		wantKind(t, err, cxone.ErrUnauthorized)
		if !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("error %q, want invalid_grant", err)
		}
	})
}

func (e *env) target(backend string) cxone.Target {
	if backend == cxone.BackendMask {
		return user(e.demo.AgentID)
	}
	return rec(e.demo.RecordingID)
}

// TestFaultsContract: 429 (org bucket and injected, Retry-After honoured in the error), 5xx,
// connection resets and timeouts, for both back ends.
func TestFaultsContract(t *testing.T) {
	// Resets come three at a time: net/http replays an idempotent PUT once on a fresh
	// connection when a reused one dies before answering.
	tests := []struct {
		name      string
		setup     func(e *env, c *cxone.Client)
		timeout   time.Duration
		want      error
		wantRetry time.Duration
	}{
		{"injected 429 with Retry-After", func(e *env, _ *cxone.Client) {
			e.sim.SetFaults(cxonesim.Faults{Next429: 1, RetryAfter: 7 * time.Second})
		}, 0, cxone.ErrRateLimited, 7 * time.Second},
		{"org rate limit", func(e *env, c *cxone.Client) {
			e.sim.SetRateLimit(0.001, 1)
			c.Get(context.Background(), e.target(c.Name())) // takes the only token in the bucket
		}, 0, cxone.ErrRateLimited, time.Second},
		{"503", func(e *env, _ *cxone.Client) { e.sim.SetFaults(cxonesim.Faults{Next5xx: 1}) }, 0, cxone.ErrTransient, 0},
		{"connection reset", func(e *env, _ *cxone.Client) { e.sim.SetFaults(cxonesim.Faults{NextResets: 3}) }, 0, cxone.ErrTransient, 0},
		{"timeout", func(e *env, _ *cxone.Client) { e.sim.SetFaults(cxonesim.Faults{Latency: time.Minute}) }, 100 * time.Millisecond, cxone.ErrTransient, 0},
	}
	for _, backend := range []string{cxone.BackendWEMv1, cxone.BackendMask} {
		for _, tc := range tests {
			t.Run(backend+" "+tc.name, func(t *testing.T) {
				e := newEnv(t, cxonesim.Options{})
				c := e.client(t, backend, func(o *cxone.Options) {
					if tc.timeout > 0 {
						o.Timeout = tc.timeout
					}
				})
				ctx := context.Background()
				if _, err := c.Token(ctx); err != nil { // token first, so the fault hits the API call
					t.Fatal(err)
				}
				if _, err := c.Get(ctx, e.target(backend)); err != nil { // discovery and one call
					t.Fatal(err)
				}
				tc.setup(e, c)
				err := c.Pause(ctx, e.target(backend), pauseReq)
				wantKind(t, err, tc.want)
				var ae *cxone.APIError
				errors.As(err, &ae)
				if tc.wantRetry > 0 && ae.RetryAfter < tc.wantRetry {
					t.Errorf("RetryAfter %s, want >= %s", ae.RetryAfter, tc.wantRetry)
				}
				if !cxone.Retryable(err) {
					t.Errorf("%v not Retryable", err)
				}
			})
		}
	}
}

// TestMaskContract covers the Public Mask API answers: 200, 202 processing, 425 locked, 404 no
// active call, 422 internal call, get-recording-status with statusReason Mask, discovery.
func TestMaskContract(t *testing.T) {
	t.Run("mask unmask immediate", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, nil)
		ctx := context.Background()
		u := user(e.demo.AgentID)
		got, err := c.ListActive(ctx, e.demo.AgentID)
		if err != nil || len(got) != 1 || got[0] != (cxone.Target{Kind: cxone.KindUser, ID: e.demo.AgentID, AgentID: e.demo.AgentID, InteractionID: e.demo.InteractionID}) {
			t.Fatalf("ListActive = %+v, %v", got, err)
		}
		wantKind(t, c.Pause(ctx, u, pauseReq), nil)
		st, err := c.Get(ctx, u)
		if err != nil || st != (cxone.State{Status: cxone.StatusPaused}) {
			t.Fatalf("after mask: %+v %v", st, err)
		}
		wantKind(t, c.Resume(ctx, u, resumeReq), nil)
		st, err = c.Get(ctx, u)
		if err != nil || st != (cxone.State{Status: cxone.StatusRecording}) {
			t.Fatalf("after unmask: %+v %v", st, err)
		}
		if iv := e.sim.PausedIntervals(e.demo.AgentID); len(iv) != 1 || iv[0].End.IsZero() {
			t.Errorf("masked intervals %v, want one closed", iv)
		}
	})
	t.Run("202 while applying then 425 on overlap", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{MaskDelay: 2 * time.Second})
		c := e.client(t, cxone.BackendMask, nil)
		ctx := context.Background()
		u := user(e.demo.AgentID)
		err := c.Pause(ctx, u, pauseReq)
		wantKind(t, err, cxone.ErrPending)
		if ae := new(cxone.APIError); errors.As(err, &ae) && ae.StatusCode != 202 {
			t.Errorf("status %d, want 202", ae.StatusCode)
		}
		st, err := c.Get(ctx, u)
		if err != nil || !st.Pending || st.Status != cxone.StatusRecording {
			t.Fatalf("while applying: %+v %v, want pending RECORDING", st, err)
		}
		err = c.Resume(ctx, u, resumeReq)
		wantKind(t, err, cxone.ErrPending)
		if ae := new(cxone.APIError); errors.As(err, &ae) && ae.StatusCode != 425 {
			t.Errorf("status %d, want 425", ae.StatusCode)
		}
		e.clk.Add(2 * time.Second)
		st, err = c.Get(ctx, u)
		if err != nil || st != (cxone.State{Status: cxone.StatusPaused}) {
			t.Fatalf("after delay: %+v %v, want PAUSED settled", st, err)
		}
	})
	t.Run("404 no active call", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, nil)
		ctx := context.Background()
		e.sim.EndInteraction(e.demo.InteractionID)
		u := user(e.demo.AgentID)
		wantKind(t, c.Pause(ctx, u, pauseReq), cxone.ErrNotFound)
		st, err := c.Get(ctx, u)
		wantKind(t, err, cxone.ErrNotFound)
		if st.Status != cxone.StatusEnded {
			t.Errorf("Get status %s, want ENDED", st.Status)
		}
		if got, err := c.ListActive(ctx, e.demo.AgentID); err != nil || len(got) != 0 {
			t.Errorf("ListActive = %v %v, want none", got, err)
		}
	})
	t.Run("422 internal call", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, nil)
		e.sim.StartInternalInteraction(e.demo.AgentID)
		err := c.Pause(context.Background(), user(e.demo.AgentID), pauseReq)
		wantKind(t, err, cxone.ErrNotApplicable)
		if cxone.Retryable(err) {
			t.Error("422 must not be retryable")
		}
	})
	t.Run("403 names the permission", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		e.sim.AddAccessKey("nomask", "nomask-secret", e.demo.AgentID, "something.else")
		c := e.client(t, cxone.BackendMask, func(o *cxone.Options) { o.AccessKeyID, o.AccessKeySecret = "nomask", "nomask-secret" })
		err := c.Pause(context.Background(), user(e.demo.AgentID), pauseReq)
		wantKind(t, err, cxone.ErrForbidden)
		if !strings.Contains(err.Error(), "Mask API permission") {
			t.Errorf("error %q does not name the permission", err)
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, func(o *cxone.Options) { o.TenantID = "no-such-tenant" })
		_, err := c.Get(context.Background(), user(e.demo.AgentID))
		// Not ErrNotFound: that would tell the controller the target ended.
		wantKind(t, err, cxone.ErrTransient)
		if !strings.Contains(err.Error(), "discovery") || !strings.Contains(err.Error(), "tenant_id") {
			t.Errorf("error %q does not say discovery failed", err)
		}
	})
	t.Run("wrong target kind", func(t *testing.T) {
		e := newEnv(t, cxonesim.Options{})
		c := e.client(t, cxone.BackendMask, nil)
		wantKind(t, c.Pause(context.Background(), rec("x"), pauseReq), cxone.ErrBadRequest)
	})
}

// TestStatusCodeMapping answers each status with a stub server and checks the typed error,
// including malformed bodies and card digits echoed by the server.
func TestStatusCodeMapping(t *testing.T) {
	type answer struct {
		status int
		header map[string]string
		body   string
	}
	tests := []struct {
		name      string
		op        string
		ans       answer
		want      error
		wantRetry time.Duration
	}{
		{"200 get", "get", answer{200, nil, `{"id":"r1","status":"PAUSED"}`}, nil, 0},
		{"200 get unknown status", "get", answer{200, nil, `{"id":"r1","status":"SLEEPING"}`}, cxone.ErrMalformed, 0},
		{"200 get not JSON", "get", answer{200, nil, `<html>`}, cxone.ErrMalformed, 0},
		{"200 get other id", "get", answer{200, nil, `{"id":"r2","status":"PAUSED"}`}, cxone.ErrMalformed, 0},
		{"200 list no array", "list", answer{200, nil, `{}`}, cxone.ErrMalformed, 0},
		{"200 list entry without id", "list", answer{200, nil, `{"recordings":[{"status":"RECORDING"}]}`}, cxone.ErrMalformed, 0},
		{"200 list wrong type", "list", answer{200, nil, `{"recordings":{"id":1}}`}, cxone.ErrMalformed, 0},
		{"200 pause", "pause", answer{200, nil, ``}, nil, 0},
		{"204 pause", "pause", answer{204, nil, ``}, nil, 0},
		{"400", "pause", answer{400, nil, `{"error":"bad_request","message":"reason missing"}`}, cxone.ErrBadRequest, 0},
		{"403", "pause", answer{403, nil, `{}`}, cxone.ErrForbidden, 0},
		{"404", "pause", answer{404, nil, `{}`}, cxone.ErrNotFound, 0},
		{"409", "resume", answer{409, nil, `{}`}, cxone.ErrConflict, 0},
		{"422", "pause", answer{422, nil, `{}`}, cxone.ErrNotApplicable, 0},
		{"425", "pause", answer{425, nil, `{}`}, cxone.ErrPending, 0},
		{"429 seconds", "pause", answer{429, map[string]string{"Retry-After": "3"}, `{}`}, cxone.ErrRateLimited, 3 * time.Second},
		{"429 HTTP-date", "pause", answer{429, map[string]string{"Retry-After": time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)}, `{}`}, cxone.ErrRateLimited, 80 * time.Second},
		{"500", "pause", answer{500, nil, `oops`}, cxone.ErrTransient, 0},
		{"502", "get", answer{502, nil, ``}, cxone.ErrTransient, 0},
		{"503 Retry-After", "pause", answer{503, map[string]string{"Retry-After": "2"}, ``}, cxone.ErrTransient, 2 * time.Second},
		{"server echoes a PAN", "pause", answer{400, nil, `{"message":"bad field 4111111111111111"}`}, cxone.ErrBadRequest, 0},
		{"huge body", "get", answer{200, nil, `{"id":"r1","status":"PAUSED","pad":"` + strings.Repeat("x", 2<<20) + `"}`}, cxone.ErrMalformed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"access_token":"stub-token","token_type":"Bearer","expires_in":3600}`)
					return
				}
				for k, v := range tc.ans.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.ans.status)
				fmt.Fprint(w, tc.ans.body)
			}))
			defer srv.Close()
			var logs bytes.Buffer
			c, err := cxone.NewClient(cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: srv.URL, TokenURL: srv.URL + "/token",
				ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			switch tc.op {
			case "get":
				_, err = c.Get(ctx, rec("r1"))
			case "list":
				_, err = c.ListActive(ctx, "a1")
			case "pause":
				err = c.Pause(ctx, rec("r1"), pauseReq)
			case "resume":
				err = c.Resume(ctx, rec("r1"), resumeReq)
			}
			wantKind(t, err, tc.want)
			if err == nil {
				return
			}
			var ae *cxone.APIError
			errors.As(err, &ae)
			if tc.wantRetry > 0 && (ae.RetryAfter < tc.wantRetry || ae.RetryAfter > tc.wantRetry+15*time.Second) {
				t.Errorf("RetryAfter %s, want about %s", ae.RetryAfter, tc.wantRetry)
			}
			if strings.Contains(err.Error(), "4111111111111111") || strings.Contains(logs.String(), "4111111111111111") {
				t.Errorf("card digits reached the error or log: %v", err)
			}
			if strings.Contains(logs.String(), "stub-token") {
				t.Error("token logged")
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"5", 5 * time.Second}, {"-3", 0}, {"abc", 0},
		{"99999999999", 10 * time.Minute},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0},
		{"Thu, 01 Jan 2026 00:00:10 GMT", 10 * time.Second},
	}
	for _, tc := range tests {
		if got := cxone.ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestTLS11ServerRefused: a server that speaks at most TLS 1.1 is refused even when the test
// client offers it and trusts the certificate.
func TestTLS11ServerRefused(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"access_token":"x","token_type":"Bearer"}`)
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	hc := srv.Client()
	hc.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10 // the client must raise it
	c, err := cxone.NewClient(cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: srv.URL, TokenURL: srv.URL + "/token",
		ClientID: "id", ClientSecret: "secret", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Get(context.Background(), rec("r1"))
	wantKind(t, err, cxone.ErrTransient)
	if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("error %q does not say the TLS version was refused", err)
	}
}

func TestCAFileTrustsSimulator(t *testing.T) {
	e := newEnv(t, cxonesim.Options{})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, e.sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, cxone.BackendWEMv1, func(o *cxone.Options) { o.HTTPClient, o.CAFile = nil, ca })
	if _, err := c.Get(context.Background(), rec(e.demo.RecordingID)); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}
	c2 := e.client(t, cxone.BackendWEMv1, func(o *cxone.Options) { o.HTTPClient = nil })
	_, err := c2.Get(context.Background(), rec(e.demo.RecordingID))
	wantKind(t, err, cxone.ErrTransient) // unknown authority
}

func TestOptionsValidation(t *testing.T) {
	good := cxone.Options{Backend: cxone.BackendWEMv1, Org: "acme", ClientID: "id", ClientSecret: "s"}
	tests := []struct {
		name string
		mod  func(*cxone.Options)
		want string
	}{
		{"good", func(o *cxone.Options) {}, ""},
		{"no backend", func(o *cxone.Options) { o.Backend = "" }, "backend is required"},
		{"bad backend", func(o *cxone.Options) { o.Backend = "wem-v2" }, `"wem-v2"`},
		{"no org or base", func(o *cxone.Options) { o.Org = "" }, "org or base_url"},
		{"bad org", func(o *cxone.Options) { o.Org = "acme/evil" }, "org"},
		{"no client id", func(o *cxone.Options) { o.ClientID = "" }, "client_id"},
		{"no secret", func(o *cxone.Options) { o.ClientSecret = "" }, "client secret"},
		{"plain http remote", func(o *cxone.Options) { o.BaseURL = "http://cxone.example.com/api" }, "plain http"},
		{"plain http loopback ok", func(o *cxone.Options) { o.BaseURL = "http://127.0.0.1:8080/api" }, ""},
		{"ftp", func(o *cxone.Options) { o.TokenURL = "ftp://x/token" }, "scheme"},
		{"mask without key", func(o *cxone.Options) { o.Backend = cxone.BackendMask; o.TenantID = "t" }, "access_key_id"},
		{"mask without tenant", func(o *cxone.Options) {
			o.Backend, o.AccessKeyID, o.AccessKeySecret = cxone.BackendMask, "k", "ks"
		}, "tenant_id"},
		{"missing CA file", func(o *cxone.Options) { o.CAFile = "/nonexistent/ca.pem" }, "ca_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			_, err := cxone.New(o, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestHeadersAndLogs: every request carries the User-Agent and its own X-Request-Id; every log
// line of a call carries a request_id; no token or secret is ever logged.
func TestHeadersAndLogs(t *testing.T) {
	var mu sync.Mutex
	var uas, ids []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uas = append(uas, r.UserAgent())
		ids = append(ids, r.Header.Get("X-Request-Id"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/token" {
			fmt.Fprint(w, `{"access_token":"very-secret-token","token_type":"Bearer","expires_in":3600}`)
			return
		}
		fmt.Fprint(w, `{"id":"r1","status":"RECORDING"}`)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	c, err := cxone.NewClient(cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: srv.URL, TokenURL: srv.URL + "/token",
		ClientID: "id", ClientSecret: "client-secret-xyz", HTTPClient: srv.Client()},
		slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if _, err := c.Get(context.Background(), rec("r1")); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for i := range uas {
		if uas[i] != buildinfo.UserAgent() {
			t.Errorf("User-Agent %q, want %q", uas[i], buildinfo.UserAgent())
		}
		if ids[i] == "" || seen[ids[i]] {
			t.Errorf("request %d: X-Request-Id %q missing or reused", i, ids[i])
		}
		seen[ids[i]] = true
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, `"request_id"`) || !strings.Contains(line, `"component":"cxone"`) {
			t.Errorf("log line without request_id/component: %s", line)
		}
	}
	if strings.Contains(logs.String(), "very-secret-token") || strings.Contains(logs.String(), "client-secret-xyz") {
		t.Error("token or secret logged")
	}
}

// TestConcurrentCallsShareOneToken: a burst of calls on a fresh client makes one token
// request, and after the token expires one refresh serves them all again.
func TestConcurrentCallsShareOneToken(t *testing.T) {
	e := newEnv(t, cxonesim.Options{})
	c := e.client(t, cxone.BackendWEMv1, nil)
	burst := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Get(context.Background(), rec(e.demo.RecordingID)); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	count := func() (tokens int) {
		for _, call := range e.sim.Calls() {
			if call.Op == "token" {
				tokens++
			}
		}
		return tokens
	}
	burst()
	if n := count(); n != 1 {
		t.Errorf("%d token requests for a burst, want 1", n)
	}
	e.sim.ExpireTokens()
	burst()
	if n := count(); n != 2 {
		t.Errorf("%d token requests after expiry, want 2 (one refresh)", n)
	}
}
