//go:build windows

package supervise

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// childMode makes this test binary act as the helper that TestPlatformStartWaitAdopt starts.
var childMode = flag.Bool("supervise-child", false, "act as a supervised child (internal)")

func (p *winProcess) terminate() {
	_ = windows.TerminateProcess(p.h, 1)
	_, _ = windows.WaitForSingleObject(p.h, windows.INFINITE)
	windows.CloseHandle(p.h)
}

// These run the real Windows calls: on a Windows host, or under Wine (make test-windows), where
// WTS reports the one desktop session and CreateProcessAsUser starts an ordinary process.

func TestPlatformSessions(t *testing.T) {
	list, err := winPlatform{}.sessions()
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	if len(list) == 0 {
		t.Fatal("no interactive session found, but this test runs in one")
	}
	for _, s := range list {
		if s.ID == 0 || s.User == "" {
			t.Errorf("session %+v: want a non-zero id and a user", s)
		}
	}
	t.Logf("sessions: %+v", list)
}

// TestPlatformStartWaitAdopt starts this test binary as a helper (in a mode that exits with a
// given status or waits), sees its exit status, and finds it again through existing().
func TestPlatformStartWaitAdopt(t *testing.T) {
	if *childMode {
		return
	}
	list, err := winPlatform{}.sessions()
	if err != nil || len(list) == 0 {
		t.Fatalf("sessions: %v %v", list, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy under a distinct name, so existing() matches only what this test started.
	// Not t.TempDir: Wine refuses to delete an executable that has just run ("Invalid
	// function"), which would fail the test in its cleanup; removal is best effort here.
	dir, err := os.MkdirTemp("", "supervise")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("leaving %s: %v", dir, err)
		}
	})
	helper := filepath.Join(dir, "pcipause-session-test.exe")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"clean exit", []string{"-test.run=^TestChildExit$", "-test.count=1", "-supervise-child"}, ""},
		{"crash status", []string{"-test.run=^TestChildFail$", "-test.count=1", "-supervise-child"}, "exited with status 0x1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := winPlatform{}.start(list[0], helper, tt.args)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if p.PID() == 0 {
				t.Fatal("pid 0")
			}
			err = p.Wait(make(chan struct{}))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Wait = %v, want %q", err, tt.wantErr)
			}
		})
	}

	// A helper that keeps running is adopted, and a Wait on it is abandoned by stop.
	p, err := winPlatform{}.start(list[0], helper, []string{"-test.run=^TestChildWait$", "-test.count=1", "-supervise-child"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer p.(*winProcess).terminate()
	found, err := winPlatform{}.existing(helper)
	if err != nil {
		t.Fatalf("existing: %v", err)
	}
	for _, q := range found {
		windows.CloseHandle(q.(*winProcess).h)
	}
	if q, ok := found[list[0].ID]; !ok || q.PID() != p.PID() {
		t.Fatalf("existing = %v, want pid %d in session %d", found, p.PID(), list[0].ID)
	}
	stop := make(chan struct{})
	close(stop)
	if err := p.Wait(stop); err != errStopped {
		t.Fatalf("Wait after stop = %v, want errStopped", err)
	}
}

func TestChildExit(t *testing.T) {}

func TestChildFail(t *testing.T) {
	if *childMode {
		os.Exit(1)
	}
}

func TestChildWait(t *testing.T) {
	if *childMode {
		time.Sleep(time.Minute)
	}
}

func TestPlatformWatchStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- winPlatform{}.watch(ctx, func() {}) }()
	cancel()
	if err := <-done; err != nil {
		t.Logf("watch reported (the rescan covers this): %v", err)
	}
}
