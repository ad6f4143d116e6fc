package supervise

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProc exits when the test sends on exit.
type fakeProc struct {
	pid  int
	exit chan error
}

func (p *fakeProc) PID() int { return p.pid }

func (p *fakeProc) Wait(stop <-chan struct{}) error {
	select {
	case err := <-p.exit:
		return err
	case <-stop:
		return errStopped
	}
}

type fakePlatform struct {
	mu       sync.Mutex
	active   []Session
	nextPID  int
	procs    map[int]*fakeProc
	startErr error
	adopt    map[uint32]process
	changed  func()
	watching chan struct{}
}

func newFake(sessions ...Session) *fakePlatform {
	return &fakePlatform{active: sessions, nextPID: 100, procs: map[int]*fakeProc{}, watching: make(chan struct{})}
}

func (f *fakePlatform) sessions() ([]Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Session(nil), f.active...), nil
}

func (f *fakePlatform) start(s Session, path string, args []string) (process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.nextPID++
	p := &fakeProc{pid: f.nextPID, exit: make(chan error, 1)}
	f.procs[p.pid] = p
	return p, nil
}

func (f *fakePlatform) existing(string) (map[uint32]process, error) { return f.adopt, nil }

func (f *fakePlatform) watch(ctx context.Context, changed func()) error {
	f.mu.Lock()
	f.changed = changed
	f.mu.Unlock()
	close(f.watching)
	<-ctx.Done()
	return nil
}

func (f *fakePlatform) notify() {
	<-f.watching
	f.mu.Lock()
	c := f.changed
	f.mu.Unlock()
	c()
}

func (f *fakePlatform) crash(pid int) {
	f.mu.Lock()
	p := f.procs[pid]
	f.mu.Unlock()
	p.exit <- errors.New("exit status 0xc0000005")
}

func (f *fakePlatform) set(sessions ...Session) {
	f.mu.Lock()
	f.active = sessions
	f.mu.Unlock()
}

// harness runs a supervisor over a fake until the test ends and collects its events.
type harness struct {
	t      *testing.T
	fake   *fakePlatform
	sup    *Supervisor
	events chan Event
}

func start(t *testing.T, fake *fakePlatform, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, events: make(chan Event, 100)}
	opts.OnEvent = func(e Event) { h.events <- e }
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Millisecond
	}
	opts.StableAfter = time.Hour // every exit in a test is a quick crash
	opts.Rescan = time.Hour      // only notifications trigger a rescan
	h.sup = newWith(opts, fake, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// next waits for the next event; the deadline only guards against a hang.
func (h *harness) next() Event {
	h.t.Helper()
	select {
	case e := <-h.events:
		return e
	case <-time.After(30 * time.Second):
		h.t.Fatal("no supervisor event")
		return Event{}
	}
}

func (h *harness) expect(kind EventKind, session uint32) Event {
	h.t.Helper()
	e := h.next()
	if e.Kind != kind || e.Session.ID != session {
		h.t.Fatalf("event %v session %d (err %v), want %v session %d", e.Kind, e.Session.ID, e.Err, kind, session)
	}
	return e
}

var (
	alice = Session{ID: 1, User: `CORP\alice`, Station: "Console"}
	bob   = Session{ID: 3, User: `CORP\bob`, Station: "RDP-Tcp#0"}
)

func TestStartsOneHelperPerSession(t *testing.T) {
	h := start(t, newFake(alice, bob), Options{})
	h.expect(EventStarted, 1)
	h.expect(EventStarted, 3)
	got := h.sup.Helpers()
	if len(got) != 2 || got[0].State != StateRunning || got[1].State != StateRunning || got[0].PID == 0 {
		t.Fatalf("Helpers() = %+v", got)
	}
	if got[1].Session.User != `CORP\bob` {
		t.Fatalf("session 3 user = %q", got[1].Session.User)
	}
}

func TestRestartsThenGivesUp(t *testing.T) {
	tests := []struct {
		name       string
		maxCrashes int
	}{
		{"three", 3},
		{"one", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, newFake(alice), Options{MaxCrashes: tt.maxCrashes})
			e := h.expect(EventStarted, 1)
			for i := 1; i <= tt.maxCrashes; i++ {
				h.fake.crash(e.PID)
				x := h.expect(EventExited, 1)
				if x.Crashes != i || x.Err == nil {
					t.Fatalf("exit %d: crashes %d err %v", i, x.Crashes, x.Err)
				}
				if i < tt.maxCrashes {
					e = h.expect(EventStarted, 1)
				}
			}
			g := h.expect(EventGaveUp, 1)
			if !errors.Is(g.Err, ErrGaveUp) {
				t.Fatalf("give-up error %v does not wrap ErrGaveUp", g.Err)
			}
			hs := h.sup.Helpers()
			if len(hs) != 1 || hs[0].State != StateGaveUp || hs[0].PID != 0 || hs[0].LastError == "" {
				t.Fatalf("Helpers() after give-up = %+v", hs)
			}
			// A logon or reconnect notification gives the session a fresh start.
			h.fake.notify()
			h.expect(EventStarted, 1)
			if hs := h.sup.Helpers(); hs[0].State != StateRunning || hs[0].Crashes != 0 {
				t.Fatalf("Helpers() after notification = %+v", hs)
			}
		})
	}
}

func TestStartFailureRetries(t *testing.T) {
	fake := newFake(alice)
	fake.startErr = errors.New("access denied")
	h := start(t, fake, Options{MaxCrashes: 2})
	e := h.expect(EventStartFailed, 1)
	if e.Crashes != 1 {
		t.Fatalf("crashes = %d", e.Crashes)
	}
	h.expect(EventStartFailed, 1)
	h.expect(EventGaveUp, 1)
}

func TestNewSessionAndLogoff(t *testing.T) {
	h := start(t, newFake(alice), Options{})
	a := h.expect(EventStarted, 1)
	h.fake.set(alice, bob)
	h.fake.notify()
	h.expect(EventStarted, 3)
	// Alice logs off: her helper exits with her desktop and is not restarted.
	h.fake.set(bob)
	h.fake.notify()
	h.fake.crash(a.PID)
	h.expect(EventExited, 1)
	h.expect(EventSessionEnded, 1)
	hs := h.sup.Helpers()
	if len(hs) != 1 || hs[0].Session.ID != 3 {
		t.Fatalf("Helpers() after logoff = %+v", hs)
	}
}

func TestAdoptsRunningHelper(t *testing.T) {
	fake := newFake(alice, bob)
	fake.adopt = map[uint32]process{1: &fakeProc{pid: 42, exit: make(chan error, 1)}}
	h := start(t, fake, Options{})
	h.expect(EventStarted, 3) // only bob's session needs a new helper
	hs := h.sup.Helpers()
	if len(hs) != 2 || hs[0].PID != 42 || hs[0].Session.User != `CORP\alice` {
		t.Fatalf("Helpers() = %+v", hs)
	}
}

func TestBackoffGrows(t *testing.T) {
	s := newWith(Options{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}, nil, slog.New(slog.DiscardHandler))
	tests := []struct {
		crashes int
		want    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {60, 10 * time.Second}}
	for _, tt := range tests {
		if got := s.backoff(tt.crashes); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.crashes, got, tt.want)
		}
	}
}

func TestNoPlatformWaits(t *testing.T) {
	s := newWith(Options{}, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if hs := s.Helpers(); len(hs) != 0 {
		t.Fatalf("Helpers() = %+v", hs)
	}
}
