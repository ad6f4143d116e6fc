//go:build linux

package detect_test

import (
	"bytes"
	"context"
	"image"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"

	"pcipause/hooks"
	"pcipause/hooks/detect"
	"pcipause/hooks/internal/xvfbtest"
	"pcipause/hooks/x11"
)

// chanMasker records mask calls and signals each one.
type chanMasker struct {
	mu    sync.Mutex
	shown bool
	rect  image.Rectangle
	label string
	calls chan string
}

func (m *chanMasker) Show(r image.Rectangle, label string) error {
	m.mu.Lock()
	m.shown, m.rect, m.label = true, r, label
	m.mu.Unlock()
	m.calls <- "show " + label
	return nil
}
func (m *chanMasker) Move(r image.Rectangle) error {
	m.mu.Lock()
	m.rect = r
	m.mu.Unlock()
	m.calls <- "move"
	return nil
}
func (m *chanMasker) Hide() error {
	m.mu.Lock()
	m.shown = false
	m.mu.Unlock()
	m.calls <- "hide"
	return nil
}

type chanReporter struct{ open, close chan detect.Episode }

func (r chanReporter) Open(ev detect.Episode)  { r.open <- ev }
func (r chanReporter) Close(ev detect.Episode) { r.close <- ev }

func wait[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(20 * time.Second): // hang guard, not a speed assertion
		t.Fatalf("no %s within 20s", what)
	}
	var zero T
	return zero
}

// TestGuardOnXterm runs the real chain short of the overlay: xdotool types a test PAN into an
// xterm on a private Xvfb, the X11 source feeds the guard, and the guard masks at the 4th
// digit, opens a PCI window on the Luhn-valid 16th, and closes it 500 ms after the digits are
// erased. Then a paste of a card number from the clipboard masks before any digit is typed.
func TestGuardOnXterm(t *testing.T) {
	xvfbtest.Need(t, "xterm", "xdotool")
	env := xvfbtest.New(t, true)
	m := &chanMasker{calls: make(chan string, 256)}
	r := chanReporter{open: make(chan detect.Episode, 4), close: make(chan detect.Episode, 4)}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := detect.NewGuard(detect.Config{}, m, r, log)
	defer g.Close()
	defer func() {
		// Invariant 1: nothing the guard or the source logged holds the digits typed or pasted.
		out := logs.String()
		if !strings.Contains(out, "pci window open") {
			t.Error("debug log is empty: the check below would prove nothing")
		}
		for _, s := range []string{"4111111111111111", "4111 1111", "41111111"} {
			if strings.Contains(out, s) {
				t.Error("card digits in the log")
			}
		}
	}()

	src, err := hooks.New(hooks.Options{Display: env.Display, XAuthority: env.XAuthority}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan error, 1), make(chan error, 1)
	sink := focusTap{Guard: g, focus: make(chan uint64, 64)}
	go func() { done <- src.Run(ctx, started, sink) }()
	defer func() { cancel(); <-done }()
	if err := <-started; err != nil {
		t.Fatal(err)
	}

	xt := env.Start(t, "xterm", "-geometry", "60x10+50+50", "-e", "cat")
	wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--pid", strconv.Itoa(xt.Process.Pid)))[0]
	env.Output(t, "xdotool", "windowactivate", "--sync", wid)
	// The focus event reaches the guard asynchronously; a key typed before it would count
	// against the previous window. Wait until the guard has seen the xterm focused.
	for id := uint64(0); strconv.FormatUint(id, 10) != wid; {
		id = wait(t, "focus on the xterm", sink.focus)
	}

	env.Output(t, "xdotool", "type", "--delay", "20", "411")
	env.Output(t, "xdotool", "type", "--delay", "20", "1")
	if got := wait(t, "mask", m.calls); got != "show Hidden from recording · 4 digits" {
		t.Fatalf("first mask call %q", got)
	}
	m.mu.Lock()
	rect := m.rect
	m.mu.Unlock()
	if rect.Empty() || rect.Min.X < 50 || rect.Min.Y < 50 {
		t.Errorf("mask rect %v, want the xterm's area", rect)
	}
	env.Output(t, "xdotool", "type", "--delay", "20", " 1111 1111 1111")
	ep := wait(t, "open", r.open)
	if ep.Exe != "xterm" || ep.Trigger != detect.TriggerPAN || !ep.Checksum || ep.Digits != 16 {
		t.Fatalf("episode %+v", ep)
	}
	env.Output(t, "xdotool", "key", "--delay", "5", "--repeat", "19", "BackSpace")
	closed := wait(t, "close", r.close)
	if closed.ID != ep.ID || closed.ClosedAt.Sub(ep.At) <= 0 {
		t.Fatalf("closed %+v", closed)
	}
	if masked, open := g.State(); masked || open {
		t.Fatalf("after clear: masked=%v open=%v", masked, open)
	}

	// Paste: own CLIPBOARD with a card number, then Ctrl+V.
	ownClipboard(t, env, "4111 1111 1111 1111")
	deadline := time.Now().Add(20 * time.Second)
	for {
		env.Output(t, "xdotool", "key", "ctrl+v")
		if masked, _ := g.State(); masked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("paste of a card number did not mask within 20s")
		}
		env.Output(t, "xdotool", "key", "Escape") // reset, then try again once the selection is read
		time.Sleep(100 * time.Millisecond)
	}
	if ep := wait(t, "paste open", r.open); ep.Trigger != detect.TriggerPaste {
		t.Fatalf("paste episode %+v", ep)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writers.
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

// focusTap passes events to the guard and tells the test which window got the focus.
type focusTap struct {
	*detect.Guard
	focus chan uint64
}

func (f focusTap) Focus(x hooks.Focus) {
	f.Guard.Focus(x)
	select {
	case f.focus <- x.Window.ID:
	default:
	}
}

// ownClipboard makes a test client own CLIPBOARD with text until the test ends.
func ownClipboard(t *testing.T, env *xvfbtest.Env, text string) {
	t.Helper()
	c, err := x11.Dial(context.Background(), env.Display, env.XAuthority)
	if err != nil {
		t.Fatal(err)
	}
	atoms, err := c.InternAtoms()
	if err != nil {
		t.Fatal(err)
	}
	w, _ := xproto.NewWindowId(c.X)
	if err := xproto.CreateWindowChecked(c.X, 0, w, c.Root, 0, 0, 1, 1, 0, xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			ev, xerr := c.X.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			req, ok := ev.(xproto.SelectionRequestEvent)
			if !ok {
				continue
			}
			n := xproto.SelectionNotifyEvent{Time: req.Time, Requestor: req.Requestor, Selection: req.Selection, Target: req.Target}
			if req.Target == atoms.UTF8String {
				xproto.ChangeProperty(c.X, xproto.PropModeReplace, req.Requestor, req.Property, atoms.UTF8String, 8, uint32(len(text)), []byte(text))
				n.Property = req.Property
			}
			xproto.SendEvent(c.X, false, req.Requestor, 0, string(n.Bytes()))
		}
	}()
	t.Cleanup(func() { c.Close(); <-served })
	if err := xproto.SetSelectionOwnerChecked(c.X, w, atoms.Clipboard, xproto.TimeCurrentTime).Check(); err != nil {
		t.Fatal(err)
	}
}

// TestGuardFieldRuleOnZenity: a field rule by label masks a GTK form's card entry as soon as
// it gets the focus, before any key, and releases it after the hold-down when the agent tabs
// away with the field empty.
func TestGuardFieldRuleOnZenity(t *testing.T) {
	xvfbtest.Need(t, "zenity", "xdotool", "dbus-daemon")
	env := xvfbtest.New(t, true)
	env.SessionBus(t)
	m := &chanMasker{calls: make(chan string, 256)}
	r := chanReporter{open: make(chan detect.Episode, 4), close: make(chan detect.Episode, 4)}
	cfg := detect.Config{Fields: []detect.FieldRule{{
		Name: "card_entry", App: detect.AppMatch{Exe: detect.MustPattern("zenity")}, Label: detect.MustPattern("card number"),
	}}}
	g := detect.NewGuard(cfg, m, r, nil)
	defer g.Close()
	src, err := hooks.New(hooks.Options{Display: env.Display, XAuthority: env.XAuthority, NoClipboard: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan error, 1), make(chan error, 1)
	go func() { done <- src.Run(ctx, started, g) }()
	defer func() { cancel(); <-done }()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	z := env.Start(t, "zenity", "--forms", "--title=Payment", "--add-entry=Card number", "--add-entry=Name")
	wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--pid", strconv.Itoa(z.Process.Pid)))[0]
	env.Output(t, "xdotool", "windowactivate", "--sync", wid)

	ep := wait(t, "field rule open", r.open)
	if ep.Trigger != detect.TriggerFieldRule || ep.Field != "card_entry" || ep.Exe != "zenity" {
		t.Fatalf("episode %+v", ep)
	}
	if got := wait(t, "mask", m.calls); got != "show "+detect.LabelField {
		t.Fatalf("mask call %q", got)
	}
	m.mu.Lock()
	rect := m.rect
	m.mu.Unlock()
	if rect.Empty() || rect.Dx() > 600 || rect.Dy() > 80 {
		t.Fatalf("mask %v is not the entry's area", rect)
	}
	env.Output(t, "xdotool", "key", "Tab")
	if c := wait(t, "close", r.close); c.ID != ep.ID {
		t.Fatalf("closed %+v", c)
	}
	if got := wait(t, "hide", m.calls); got != "hide" {
		t.Fatalf("after tab away: %q", got)
	}
}
