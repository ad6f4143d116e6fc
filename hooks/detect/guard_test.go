package detect

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pcipause/hooks"
	"pcipause/hooks/card"
)

type fakeMasker struct {
	calls   []string
	shown   bool
	rect    image.Rectangle
	label   string
	failing int // Show fails this many more times
}

func (m *fakeMasker) Show(r image.Rectangle, label string) error {
	if m.failing > 0 {
		m.failing--
		m.calls = append(m.calls, "show-failed")
		return errors.New("overlay: not ready")
	}
	m.calls = append(m.calls, "show")
	m.shown, m.rect, m.label = true, r, label
	return nil
}
func (m *fakeMasker) Move(r image.Rectangle) error {
	m.calls = append(m.calls, "move")
	m.rect = r
	return nil
}
func (m *fakeMasker) Hide() error {
	m.calls = append(m.calls, "hide")
	m.shown = false
	return nil
}

type fakeReporter struct{ opened, closed []Episode }

func (r *fakeReporter) Open(ev Episode)  { r.opened = append(r.opened, ev) }
func (r *fakeReporter) Close(ev Episode) { r.closed = append(r.closed, ev) }

// fakeClock runs timers only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}
type fakeTimer struct {
	f       func()
	d       time.Duration
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{f: f, d: d}
	c.timers = append(c.timers, t)
	return t
}

// fire runs every pending timer (stopped ones too: a stale callback must be harmless, as a
// real time.AfterFunc may already be running when Stop is called).
func (c *fakeClock) fire() int {
	c.mu.Lock()
	ts := c.timers
	c.timers = nil
	c.mu.Unlock()
	live := 0
	for _, t := range ts {
		if !t.stopped {
			live++
		}
		t.f()
	}
	return live
}

func newTestGuard(t *testing.T, cfg Config) (*Guard, *fakeMasker, *fakeReporter, *fakeClock, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	m, r := &fakeMasker{}, &fakeReporter{}
	c := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	g := NewGuard(cfg, m, r, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	g.SetClock(c)
	t.Cleanup(g.Close)
	return g, m, r, c, &logs
}

func typeInto(g *Guard, script string) {
	for _, k := range keys(script) {
		g.Key(k)
	}
}

func TestGuardPANLifecycle(t *testing.T) {
	g, m, r, c, logs := newTestGuard(t, Config{})
	g.Focus(hooks.Focus{Window: winA})
	ks := keys(panVisa)
	for i, k := range ks {
		k.At = c.now.Add(time.Duration(i) * time.Millisecond)
		g.Key(k)
		// Show must have returned before Key did, from the 4th digit on.
		if i+1 >= DefaultMaskAt && !m.shown {
			t.Fatalf("digit %d: mask not up when Key returned", i+1)
		}
		if i+1 < DefaultMaskAt && m.shown {
			t.Fatalf("digit %d: mask up too early", i+1)
		}
	}
	if m.label != "Hidden from recording · 16 digits · checksum OK" || m.rect != winA.Bounds {
		t.Fatalf("mask = %v %q", m.rect, m.label)
	}
	if len(r.opened) != 1 {
		t.Fatalf("opened %d episodes, want 1", len(r.opened))
	}
	ep := r.opened[0]
	if ep.Trigger != TriggerPAN || ep.Exe != "xterm" || ep.Digits != 16 || !ep.Checksum || ep.Brand != card.BrandVisa ||
		!ep.At.Equal(c.now.Add(15*time.Millisecond)) || ep.Field != DefaultField {
		t.Fatalf("episode = %+v", ep)
	}
	if n := c.fire(); n != 0 {
		t.Fatalf("%d hold-down timers while the PAN is on screen", n)
	}
	typeInto(g, strings.Repeat("b", 16))
	if !m.shown || len(r.closed) != 0 {
		t.Fatal("released before the hold-down ran out")
	}
	if n := c.fire(); n != 1 {
		t.Fatalf("%d live hold-down timers, want 1", n)
	}
	if m.shown || len(r.closed) != 1 || r.closed[0].ID != ep.ID || r.closed[0].ClosedAt.IsZero() {
		t.Fatalf("after hold-down: shown=%v closed=%+v", m.shown, r.closed)
	}
	if masked, open := g.State(); masked || open {
		t.Fatalf("State() = %v, %v", masked, open)
	}
	for _, s := range []string{panVisa, "4111 1111", "41111111"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("card digits in the log:\n%s", strings.ReplaceAll(logs.String(), panVisa, "<PAN>"))
		}
	}
}

// anchorMasker is a fakeMasker that can pin its mask to a window.
type anchorMasker struct{ fakeMasker }

func (m *anchorMasker) Anchor(win uint64, rel image.Rectangle) {
	m.calls = append(m.calls, fmt.Sprintf("anchor %#x %v", win, rel))
}

// TestGuardAnchors: an Anchorer hears the window the mask lies in after the show that put
// the mask up, again only when that changes, and afresh once the mask was hidden.
func TestGuardAnchors(t *testing.T) {
	m, r := &anchorMasker{}, &fakeReporter{}
	c := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	g := NewGuard(Config{}, m, r, nil)
	g.SetClock(c)
	t.Cleanup(g.Close)
	moved := winA
	moved.Bounds = image.Rect(300, 300, 800, 600)
	step := func(name string, f func(), want ...string) {
		t.Helper()
		m.calls = nil
		f()
		if strings.Join(m.calls, "|") != strings.Join(want, "|") {
			t.Errorf("%s: calls %q, want %q", name, m.calls, want)
		}
	}
	step("4 digits in A", func() { g.Focus(hooks.Focus{Window: winA}); typeInto(g, "4111") },
		"show", "anchor 0xa (0,0)-(500,300)")
	step("relabel", func() { typeInto(g, "1") }, "show")
	step("A moves: the window carries the anchor", func() { g.Moved(moved) }, "move")
	step("erased", func() { typeInto(g, "bbbbb"); c.fire() }, "show", "hide") // relabelled at 4 digits, released at 3
	step("a new episode anchors again", func() { typeInto(g, "4111") }, "show", "anchor 0xa (0,0)-(500,300)")
	step("a card in A, then one in B: the mask spans both", func() {
		typeInto(g, panVisa[4:])
		g.Focus(hooks.Focus{Window: winB})
		typeInto(g, panMC[:4])
	}, append(slices.Repeat([]string{"show"}, 12+1+4), "anchor 0x0 (0,0)-(0,0)")...) // 12 digits, the focus change, 4 digits in B
}

func TestGuardReentryCancelsHoldDown(t *testing.T) {
	tests := []struct {
		name    string
		leave   func(g *Guard)
		reenter func(g *Guard)
	}{
		{"field rule: focus away and back",
			func(g *Guard) { g.Focus(hooks.Focus{Window: winB}) },
			func(g *Guard) { g.Focus(hooks.Focus{Window: winC}) }},
		{"digits erased and typed again",
			func(g *Guard) { typeInto(g, "bbbbbbbbbbbbbbbbbbbbbbb") },
			func(g *Guard) { typeInto(g, panMC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, m, r, c, _ := newTestGuard(t, testConfig())
			g.Focus(hooks.Focus{Window: winC}) // rule crm_cvv_box: masked and open at once
			if !m.shown || len(r.opened) != 1 || r.opened[0].Trigger != TriggerFieldRule {
				t.Fatalf("focus on rule field: shown=%v opened=%+v", m.shown, r.opened)
			}
			if tt.name != "field rule: focus away and back" {
				g.Focus(hooks.Focus{Window: winA})
				typeInto(g, panVisa)
			}
			tt.leave(g)
			tt.reenter(g)
			c.fire() // the cancelled timer's callback must do nothing
			if !m.shown || len(r.closed) != 0 || len(r.opened) != 1 {
				t.Fatalf("after re-entry: shown=%v opened=%d closed=%d", m.shown, len(r.opened), len(r.closed))
			}
		})
	}
}

func TestGuardThresholdOnlyMasks(t *testing.T) {
	g, m, r, c, _ := newTestGuard(t, Config{})
	g.Focus(hooks.Focus{Window: winB})
	typeInto(g, "2026x")
	if len(r.opened) != 0 {
		t.Fatal("a 4-digit run opened a PCI window with pause_on=pan")
	}
	if !m.shown {
		t.Fatal("mask released before hold-down")
	}
	c.fire()
	if m.shown {
		t.Fatal("mask not released after a short run ended")
	}
	if got := strings.Join(m.calls, ","); got != "show,hide" {
		t.Fatalf("masker calls = %s", got)
	}
}

func TestGuardUpdatesAndMoves(t *testing.T) {
	g, m, _, _, _ := newTestGuard(t, Config{})
	g.Focus(hooks.Focus{Window: winA})
	typeInto(g, panMC)
	g.Focus(hooks.Focus{Window: winB})
	w := winA
	w.Bounds = image.Rect(0, 0, 500, 300)
	g.Moved(w)
	if m.rect != w.Bounds {
		t.Fatalf("mask at %v, want %v", m.rect, w.Bounds)
	}
	// one show per label change (digits 4..16, then the "card number" label), one move
	if got := strings.Count(strings.Join(m.calls, ","), "show"); got != 14 {
		t.Fatalf("%d shows: %v", got, m.calls)
	}
	if m.calls[len(m.calls)-1] != "move" {
		t.Fatalf("last call %q, want move", m.calls[len(m.calls)-1])
	}
}

func TestGuardMaskFailureRetries(t *testing.T) {
	g, m, _, _, logs := newTestGuard(t, Config{})
	m.failing = 1
	g.Focus(hooks.Focus{Window: winA})
	typeInto(g, "5500")
	if m.shown {
		t.Fatal("shown despite failure")
	}
	if masked, _ := g.State(); masked {
		t.Fatal("guard believes the mask is up after Show failed")
	}
	typeInto(g, "0")
	if !m.shown {
		t.Fatal("Show not retried on the next key")
	}
	if !strings.Contains(logs.String(), "mask show failed") {
		t.Fatalf("failure not logged: %s", logs.String())
	}
}

func TestGuardCloseKeepsMask(t *testing.T) {
	g, m, r, c, _ := newTestGuard(t, Config{})
	g.Focus(hooks.Focus{Window: winA})
	typeInto(g, panAmex)
	typeInto(g, strings.Repeat("b", 15))
	g.Close()
	c.fire()
	if !m.shown || len(r.closed) != 0 {
		t.Fatal("Close released the mask or the PCI window")
	}
}

func TestGuardKeyDoesNotAllocate(t *testing.T) {
	g := NewGuard(Config{}, nopMasker{}, nopReporter{}, nil)
	g.Focus(hooks.Focus{Window: winA})
	ks := keys("4111 1111 1111 1111bbbbbbbbbbbbbbbbbbb")
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		g.Key(ks[i%len(ks)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Guard.Key allocates %.1f times per key", allocs)
	}
}

type nopMasker struct{}

func (nopMasker) Show(image.Rectangle, string) error { return nil }
func (nopMasker) Move(image.Rectangle) error         { return nil }
func (nopMasker) Hide() error                        { return nil }

// Anchor makes nopMasker an Anchorer, so the allocation test covers the anchor path too.
func (nopMasker) Anchor(uint64, image.Rectangle) {}

type nopReporter struct{}

func (nopReporter) Open(Episode)  {}
func (nopReporter) Close(Episode) {}

func BenchmarkDetectorKey(b *testing.B) {
	d := NewDetector(Config{})
	d.Focus(hooks.Focus{Window: winA})
	ks := keys("4111 1111 1111 1111bbbbbbbbbbbbbbbbbbb")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Key(ks[i%len(ks)])
	}
}

func BenchmarkGuardKey(b *testing.B) {
	g := NewGuard(Config{}, nopMasker{}, nopReporter{}, nil)
	g.Focus(hooks.Focus{Window: winA})
	ks := keys("4111 1111 1111 1111bbbbbbbbbbbbbbbbbbb")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Key(ks[i%len(ks)])
	}
}
