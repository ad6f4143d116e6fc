//go:build linux

package overlay

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
	"go.uber.org/goleak"

	"pcipause/e2e/xenv"
)

func TestMain(m *testing.M) {
	// Private Xvfb sessions have no auth cookie; xgb says so on its package logger.
	xgb.Logger = log.New(io.Discard, "", 0)
	os.Exit(m.Run())
}

const testLabel = "Hidden from recording · 16 digits · checksum OK"

// peer is a second client on the test display, standing in for applications and the WM.
type peer struct {
	t    testing.TB
	conn *xgb.Conn
	root xproto.Window
	scr  *xproto.ScreenInfo
}

func newPeer(t testing.TB, display string) *peer {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("peer connect: %v", err)
	}
	t.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	return &peer{t: t, conn: c, root: scr.Root, scr: scr}
}

// window creates and maps a white top-level window; overrideRedirect skips the WM.
func (p *peer) window(r image.Rectangle, overrideRedirect bool, events uint32) xproto.Window {
	p.t.Helper()
	id, err := xproto.NewWindowId(p.conn)
	if err != nil {
		p.t.Fatal(err)
	}
	or := uint32(0)
	if overrideRedirect {
		or = 1
	}
	err = xproto.CreateWindowChecked(p.conn, 0, id, p.root, int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, p.scr.RootVisual, xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{p.scr.WhitePixel, or, events}).Check()
	if err != nil {
		p.t.Fatal(err)
	}
	xproto.MapWindow(p.conn, id)
	p.conn.Sync()
	return id
}

// masks returns the overlay's mapped mask windows, bottom to top order of the root's children.
func (p *peer) stack() []xproto.Window {
	p.t.Helper()
	tr, err := xproto.QueryTree(p.conn, p.root).Reply()
	if err != nil {
		p.t.Fatal(err)
	}
	return tr.Children
}

func (p *peer) viewable(w xproto.Window) bool {
	a, err := xproto.GetWindowAttributes(p.conn, w).Reply()
	return err == nil && a.MapState == xproto.MapStateViewable
}

// until waits for cond, which depends on another client's event handling; X offers the test no
// event for "the overlay has reacted", so it looks every 10 ms for up to 10 s.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestOverlay(t testing.TB, display string) *x11Overlay {
	t.Helper()
	o, err := New(context.Background(), Options{Display: display}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o.(*x11Overlay)
}

// overField starts a private X session with a white "application" window and an overlay,
// and returns the peer connection, the overlay and a field inside that window to mask.
func overField(t *testing.T) (*peer, *x11Overlay, image.Rectangle) {
	t.Helper()
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	p := newPeer(t, env.Display)
	p.window(image.Rect(50, 50, 800, 300), true, 0)
	return p, newTestOverlay(t, env.Display), image.Rect(100, 100, 700, 160)
}

func TestShowHideCheck(t *testing.T) {
	p, o, field := overField(t)

	if err := o.Check(); !errors.Is(err, ErrNotShown) {
		t.Fatalf("Check before any Show = %v, want ErrNotShown", err)
	}
	tests := []struct {
		name    string
		do      func() error
		wantErr bool
	}{
		{"shown", func() error { return o.Show(field, testLabel) }, false},
		{"moved", func() error { return o.Move(field.Add(image.Pt(20, 30))) }, false},
		{"relabelled", func() error { return o.Show(field.Add(image.Pt(20, 30)), "Hidden from recording · 7 digits") }, false},
		{"hidden", o.Hide, true},
		{"shown again", func() error { return o.Show(field, testLabel) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			err := o.Check()
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrNotShown)) {
				t.Fatalf("Check() = %v, want error %v", err, tt.wantErr)
			}
			for _, w := range o.wins[:1] {
				if got := p.viewable(w.id); got == tt.wantErr {
					t.Fatalf("mask window viewable = %v", got)
				}
			}
		})
	}
}

func TestUnknownAreaCoversScreen(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	p := newPeer(t, env.Display)
	p.window(image.Rect(50, 50, 400, 300), true, 0)
	o := newTestOverlay(t, env.Display)
	for _, r := range []image.Rectangle{{}, image.Rect(5000, 5000, 5100, 5050)} {
		if err := o.Show(r, testLabel); err != nil {
			t.Fatal(err)
		}
		g, err := xproto.GetGeometry(p.conn, xproto.Drawable(o.wins[0].id)).Reply()
		if err != nil {
			t.Fatal(err)
		}
		got := image.Rect(int(g.X), int(g.Y), int(g.X)+int(g.Width), int(g.Y)+int(g.Height))
		if want := (image.Rectangle{Max: env.Size}); got != want {
			t.Errorf("Show(%v): mask at %v, want the whole screen %v", r, got, want)
		}
		if err := o.Check(); err != nil {
			t.Errorf("Show(%v): %v", r, err)
		}
	}
}

func TestLabelDrawn(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	p := newPeer(t, env.Display)
	o := newTestOverlay(t, env.Display)
	field := image.Rect(100, 100, 800, 160)
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	// The label follows the map on the overlay's event goroutine.
	until(t, "label pixels on screen", func() bool {
		img, err := xproto.GetImage(p.conn, xproto.ImageFormatZPixmap, xproto.Drawable(p.root),
			int16(field.Min.X), int16(field.Min.Y), uint16(field.Dx()), uint16(field.Dy()), 0xffffffff).Reply()
		if err != nil {
			return false
		}
		lit := 0
		for i := 0; i+3 < len(img.Data); i += 4 {
			if img.Data[i] > 200 && img.Data[i+1] > 200 && img.Data[i+2] > 200 {
				lit++
			}
		}
		return lit > 200
	})
	if err := o.Check(); err != nil {
		t.Fatalf("Check with label drawn: %v", err)
	}
}

func TestCheckDetectsMaskRemovedBehindItsBack(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	p := newPeer(t, env.Display)
	p.window(image.Rect(0, 0, 600, 400), true, 0)
	o := newTestOverlay(t, env.Display)
	if err := o.Show(image.Rect(50, 50, 400, 100), ""); err != nil {
		t.Fatal(err)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check while shown: %v", err)
	}
	// Another client unmaps the mask: the overlay still believes it is shown, only the
	// readback can tell.
	xproto.UnmapWindow(p.conn, o.wins[0].id)
	p.conn.Sync()
	if err := o.Check(); err == nil {
		t.Fatal("Check after the mask was unmapped by another client: want error")
	}
}

func TestStaysOnTop(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{})
	p := newPeer(t, env.Display)
	o := newTestOverlay(t, env.Display)
	field := image.Rect(100, 100, 500, 160)
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		overrideRedirect bool
	}{
		{"managed window maps above", false},
		{"override-redirect window maps above", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.window(image.Rect(50, 50, 600, 300), tt.overrideRedirect, 0)
			until(t, "mask back on top", func() bool {
				s := p.stack()
				return len(s) > 0 && s[len(s)-1] == o.wins[0].id
			})
			if err := o.Check(); err != nil {
				t.Fatalf("Check after another window mapped above: %v", err)
			}
		})
	}
}

func TestClickThrough(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	p := newPeer(t, env.Display)
	if err := xtest.Init(p.conn); err != nil {
		t.Skipf("skipping: XTEST extension missing: %v", err)
	}
	app := p.window(image.Rect(0, 0, 600, 400), true, xproto.EventMaskButtonPress|xproto.EventMaskKeyPress)
	o := newTestOverlay(t, env.Display)
	if err := o.Show(image.Rect(50, 50, 400, 100), testLabel); err != nil {
		t.Fatal(err)
	}
	xproto.SetInputFocus(p.conn, xproto.InputFocusPointerRoot, app, xproto.TimeCurrentTime)
	xproto.WarpPointer(p.conn, 0, p.root, 0, 0, 0, 0, 200, 75)
	xtest.FakeInput(p.conn, xproto.ButtonPress, 1, 0, p.root, 0, 0, 0)
	xtest.FakeInput(p.conn, xproto.ButtonRelease, 1, 0, p.root, 0, 0, 0)
	xtest.FakeInput(p.conn, xproto.KeyPress, 10, 0, p.root, 0, 0, 0) // keycode 10 is "1" on Xvfb
	xtest.FakeInput(p.conn, xproto.KeyRelease, 10, 0, p.root, 0, 0, 0)
	p.conn.Sync()
	got := map[string]bool{}
	for len(got) < 2 {
		ev, err := p.conn.WaitForEvent()
		if err != nil {
			t.Fatalf("peer events: %v", err)
		}
		switch e := ev.(type) {
		case xproto.ButtonPressEvent:
			if e.Event != app {
				t.Fatalf("click went to window %d, want the app %d", e.Event, app)
			}
			got["click"] = true
		case xproto.KeyPressEvent:
			got["key"] = true
		}
	}
}

func TestClipsToMonitors(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true, Size: image.Pt(1600, 600)})
	p := newPeer(t, env.Display)
	if err := randr.Init(p.conn); err != nil {
		t.Skipf("skipping: RandR missing: %v", err)
	}
	if v, err := randr.QueryVersion(p.conn, 1, 5).Reply(); err != nil || v.MinorVersion < 5 {
		t.Skipf("skipping: RandR 1.5 monitors unsupported (%v)", err)
	}
	// Split the one Xvfb screen into two side-by-side monitors; the left one takes over the
	// screen's output, which retires the automatic full-screen monitor.
	ms, err := randr.GetMonitors(p.conn, p.root, true).Reply()
	if err != nil || len(ms.Monitors) != 1 {
		t.Fatalf("want one automatic monitor, got %v (%v)", ms, err)
	}
	outputs := ms.Monitors[0].Outputs
	for i, r := range []image.Rectangle{image.Rect(0, 0, 800, 600), image.Rect(800, 0, 1600, 600)} {
		name := []string{"left", "right"}[i]
		a, err := xproto.InternAtom(p.conn, false, uint16(len(name)), name).Reply()
		if err != nil {
			t.Fatal(err)
		}
		mi := randr.MonitorInfo{Name: a.Atom, X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy())}
		if i == 0 {
			mi.Outputs, mi.NOutput = outputs, uint16(len(outputs))
		}
		if err := randr.SetMonitorChecked(p.conn, p.root, mi).Check(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := randr.GetMonitors(p.conn, p.root, true).Reply()
	if err != nil || len(after.Monitors) != 2 {
		t.Fatalf("want two monitors after the split, got %v (%v)", after, err)
	}
	o := newTestOverlay(t, env.Display)
	field := image.Rect(700, 100, 1000, 150)
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	var got []image.Rectangle
	for _, w := range o.wins {
		g, err := xproto.GetGeometry(p.conn, xproto.Drawable(w.id)).Reply()
		if err != nil {
			t.Fatal(err)
		}
		if p.viewable(w.id) {
			got = append(got, image.Rect(int(g.X), int(g.Y), int(g.X)+int(g.Width), int(g.Y)+int(g.Height)))
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Min.X < got[j].Min.X })
	want := []image.Rectangle{image.Rect(700, 100, 800, 150), image.Rect(800, 100, 1000, 150)}
	if !slices.Equal(got, want) {
		t.Fatalf("mask windows %v, want %v (one per monitor)", got, want)
	}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUseAndClose(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o, err := New(context.Background(), Options{Display: env.Display}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r := image.Rect(10*g, 10*i, 10*g+300, 10*i+40)
				switch i % 3 {
				case 0:
					_ = o.Show(r, testLabel)
				case 1:
					_ = o.Move(r)
				default:
					_ = o.Hide()
				}
			}
		}()
	}
	wg.Wait()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Show(image.Rect(0, 0, 10, 10), ""); err == nil {
		t.Fatal("Show after Close: want error")
	}
}

func TestContextCancelCloses(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	ctx, cancel := context.WithCancel(context.Background())
	o, err := New(ctx, Options{Display: env.Display}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	until(t, "overlay closed by context", func() bool { return o.Show(image.Rect(0, 0, 10, 10), "") != nil })
}

func TestNewBadDisplay(t *testing.T) {
	_, err := New(context.Background(), Options{Display: ":9999"}, nil)
	if err == nil {
		t.Fatal("New on a display that does not exist: want error")
	}
}

// BenchmarkShow measures what the key-event path pays: Show on a hidden pre-created window
// (configure, map, raise, and a round trip so the server has processed them). "relabel" gives
// every Show a new label, as the digit count changes per key, to show that rendering the label
// stays off this path. Run with -benchtime=2000x for the percentiles quoted in the docs.
func BenchmarkShow(b *testing.B) {
	env := xenv.ForTest(b, xenv.Options{})
	p := newPeer(b, env.Display)
	p.window(image.Rect(0, 0, 800, 400), false, 0)
	o := newTestOverlay(b, env.Display)
	field := image.Rect(100, 100, 700, 160)
	for _, relabel := range []bool{false, true} {
		name := "same-label"
		if relabel {
			name = "relabel"
		}
		b.Run(name, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := o.Hide(); err != nil {
					b.Fatal(err)
				}
				r := field.Add(image.Pt(i%7, i%5))
				label := testLabel
				if relabel {
					label = fmt.Sprintf("Hidden from recording · %d digits", 7+i%13)
				}
				b.StartTimer()
				t0 := time.Now()
				if err := o.Show(r, label); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(ds)
			pct := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) }
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(ds[len(ds)-1].Microseconds()), "max-µs")
		})
	}
}

func TestDisplayLost(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{NoWM: true})
	o, err := New(context.Background(), Options{Display: env.Display}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Show(image.Rect(10, 10, 100, 40), testLabel); err != nil {
		t.Fatal(err)
	}
	env.Close() // the X server goes away under the overlay
	calls := []struct {
		name string
		call func() error
	}{
		{"Show", func() error { return o.Show(image.Rect(0, 0, 10, 10), "") }},
		{"Move", func() error { return o.Move(image.Rect(5, 5, 10, 10)) }},
		{"Check", o.Check},
		{"Hide", o.Hide},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("%s with the display gone: want an error", c.name)
				}
			case <-time.After(time.Minute): // a hang detector, not a speed assertion
				t.Fatalf("%s hung with the display gone", c.name)
			}
		})
	}
	done := make(chan error, 1)
	go func() { done <- o.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close hung with the display gone")
	}
}

// TestCheckRacingChangeConcludesNothing: a Check whose readback follows a Hide or a relabelling
// Show made after its snapshot must not report the mask as broken: it returns ErrChanged. A
// false failure would make the service hold a pause until the next mask.
func TestCheckRacingChangeConcludesNothing(t *testing.T) {
	_, o, field := overField(t)
	t.Cleanup(func() { testHookBeforeReadback = nil })
	for _, tt := range []struct {
		name   string
		change func() error
	}{
		{"hidden", o.Hide},
		{"relabelled", func() error { return o.Show(field, "Hidden from recording · 9 digits") }},
		{"moved", func() error { return o.Move(field.Add(image.Pt(0, 80))) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := o.Show(field, testLabel); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the label is drawn
			testHookBeforeReadback = func() {
				if err := tt.change(); err != nil {
					t.Error(err)
				}
				time.Sleep(50 * time.Millisecond) // and drawn again
			}
			err := o.Check()
			testHookBeforeReadback = nil
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("Check across a change = %v, want ErrChanged", err)
			}
			if err := o.Check(); err != nil && !errors.Is(err, ErrNotShown) {
				t.Fatalf("Check after the change = %v, want nil or ErrNotShown", err)
			}
		})
	}
}

// TestCheckAcrossRelabelReadsAgain: a label drawn between Check's snapshot and its readback
// (an Expose after a relabelling Show, handled on the event goroutine) is the overlay's own
// drawing, not a hole in the mask. Check reads again instead of reporting the mask broken,
// which the session helper would pass on to the service as degraded (CI saw this once).
func TestCheckAcrossRelabelReadsAgain(t *testing.T) {
	_, o, field := overField(t)
	t.Cleanup(func() { testHookBeforeReadback = nil })
	drawn := func() uint64 { o.mu.Lock(); defer o.mu.Unlock(); return o.drawn }
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	until(t, "the first label", func() bool { return drawn() > 0 })
	hooked := 0
	testHookBeforeReadback = func() {
		if hooked++; hooked > 1 {
			return
		}
		// What a relabelling Show does, minus the generation bump that would make Check
		// give up with ErrChanged: new label text, then an Expose for the event goroutine.
		before := drawn()
		o.mu.Lock()
		o.label = "Hidden from recording · 9 digits · checksum OK"
		o.mu.Unlock()
		xproto.ClearArea(o.conn, true, o.wins[0].id, 0, 0, 0, 0)
		until(t, "the new label", func() bool { return drawn() > before })
		if _, err := xproto.GetInputFocus(o.draw).Reply(); err != nil { // its copy has landed
			t.Error(err)
		}
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check across a new label = %v, want nil", err)
	}
	if hooked < 2 {
		t.Errorf("Check read back %d time(s), want a second readback after the new label", hooked)
	}
}

// TestStaleLabelCleared: a label copied late by a stale Expose (drawn for the window's state
// before a hide or a relabel) must not survive the next label. CI once saw Check report 161
// pixels "not covered" after a hide and a show: the edges of a taller old label around a
// smaller new one. Each label now clears everything outside itself first.
func TestStaleLabelCleared(t *testing.T) {
	p, o, field := overField(t)
	drawn := func() uint64 { o.mu.Lock(); defer o.mu.Unlock(); return o.drawn }
	const short = "Hidden from recording · 7 digits"
	if err := o.Show(field, short); err != nil {
		t.Fatal(err)
	}
	until(t, "the short label", func() bool { return drawn() > 0 })
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	until(t, "the long label", func() bool { return drawn() > 1 })
	if _, err := xproto.GetInputFocus(o.draw).Reply(); err != nil { // its copy has landed
		t.Fatal(err)
	}
	old := o.labels[fmt.Sprintf("%dx%d/%s", field.Dx(), field.Dy(), short)]
	o.mu.Lock()
	cur := o.wins[0].lbl
	o.mu.Unlock()
	if old == nil || old.pm == 0 || cur == nil || old.img.Bounds().Dy() <= cur.Bounds().Dy() {
		t.Fatalf("test set-up: want a cached short label taller than the long one (short %v, long %v)", old, cur)
	}

	// The stale copy: the old label, centred, on top of the new one, as a late drawLabel does.
	gc, _ := xproto.NewGcontextId(p.conn)
	if err := xproto.CreateGCChecked(p.conn, gc, xproto.Drawable(o.wins[0].id), 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	sz := old.img.Bounds().Size()
	at := centre(sz, field.Dx(), field.Dy())
	xproto.CopyArea(p.conn, xproto.Drawable(old.pm), xproto.Drawable(o.wins[0].id), gc, 0, 0,
		int16(at.X), int16(at.Y), uint16(sz.X), uint16(sz.Y))
	// Then the Expose the current label is drawn on, without clearing the window.
	before := drawn()
	ev := xproto.ExposeEvent{Window: o.wins[0].id, Width: uint16(field.Dx()), Height: uint16(field.Dy())}
	xproto.SendEvent(p.conn, false, o.wins[0].id, xproto.EventMaskExposure, string(ev.Bytes()))
	p.conn.Sync()
	until(t, "the label drawn again", func() bool { return drawn() > before })
	if _, err := xproto.GetInputFocus(o.draw).Reply(); err != nil {
		t.Fatal(err)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check after a stale label and a redraw = %v, want nil", err)
	}
}
