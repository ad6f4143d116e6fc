package svcctl

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"golang.org/x/sys/windows/svc"
)

// The SCM handler reports Running before the runtime finishes starting, turns Stop and
// Shutdown into a cancelled context, and exits non-zero when the runtime fails, so the
// recovery actions restart the service.
func TestHandlerExecute(t *testing.T) {
	boom := errors.New("ipc: listen failed")
	for _, tc := range []struct {
		name      string
		fn        func(ctx context.Context) error
		requests  []svc.Cmd
		wantCode  uint32
		wantSpec  bool
		wantErr   error
		wantState []svc.State
	}{
		{"stop", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			[]svc.Cmd{svc.Interrogate, svc.Stop}, 0, false, nil,
			[]svc.State{svc.StartPending, svc.Running, svc.Running, svc.StopPending, svc.StopPending}},
		{"shutdown", func(ctx context.Context) error { <-ctx.Done(); return nil },
			[]svc.Cmd{svc.Shutdown}, 0, false, nil,
			[]svc.State{svc.StartPending, svc.Running, svc.StopPending, svc.StopPending}},
		{"runtime fails", func(context.Context) error { return boom },
			nil, 1, true, boom,
			[]svc.State{svc.StartPending, svc.Running, svc.StopPending}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &handler{ctx: context.Background(), log: slog.New(slog.DiscardHandler), fn: tc.fn}
			req := make(chan svc.ChangeRequest, len(tc.requests))
			status := make(chan svc.Status, 16)
			for _, c := range tc.requests {
				req <- svc.ChangeRequest{Cmd: c, CurrentStatus: svc.Status{State: svc.Running}}
			}
			spec, code := h.Execute(nil, req, status)
			close(status)
			if spec != tc.wantSpec || code != tc.wantCode {
				t.Errorf("Execute = (%v, %d), want (%v, %d)", spec, code, tc.wantSpec, tc.wantCode)
			}
			if !errors.Is(h.result(), tc.wantErr) {
				t.Errorf("result %v, want %v", h.result(), tc.wantErr)
			}
			var got []svc.State
			for s := range status {
				got = append(got, s.State)
			}
			if len(got) != len(tc.wantState) {
				t.Fatalf("states %v, want %v", got, tc.wantState)
			}
			for i := range got {
				if got[i] != tc.wantState[i] {
					t.Fatalf("states %v, want %v", got, tc.wantState)
				}
			}
		})
	}
}
