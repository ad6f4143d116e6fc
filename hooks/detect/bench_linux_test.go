//go:build linux

package detect_test

import (
	"context"
	"image"
	"sort"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"pcipause/hooks"
	"pcipause/hooks/detect"
	"pcipause/hooks/internal/xvfbtest"
	"pcipause/hooks/x11"
	"pcipause/overlay"
)

// timedMasker passes calls to the real overlay and signals when Show or Hide returned.
type timedMasker struct {
	o     overlay.Overlay
	shown chan time.Time
	hid   chan struct{}
}

func (m timedMasker) Show(r image.Rectangle, l string) error {
	err := m.o.Show(r, l)
	select {
	case m.shown <- time.Now():
	default:
	}
	return err
}
func (m timedMasker) Move(r image.Rectangle) error { return m.o.Move(r) }
func (m timedMasker) Hide() error {
	err := m.o.Hide()
	m.hid <- struct{}{}
	return err
}

// BenchmarkKeyToMask measures, on a private Xvfb, the time from a key press injected with
// XTEST (the 4th digit of a run, where the mask goes up) to the overlay's Show having returned,
// i.e. the mask windows configured, mapped and synced with the server: X server delivery, the
// framed connection, keymap, detector, guard and overlay together. It reports p50/p99/max.
func BenchmarkKeyToMask(b *testing.B) {
	env := xvfbtest.New(b, true) // with a window manager, as on a desktop (else focus is polled per key)
	b.Setenv("XAUTHORITY", env.XAuthority)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, err := overlay.New(ctx, overlay.Options{Display: env.Display}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	m := timedMasker{o: o, shown: make(chan time.Time, 64), hid: make(chan struct{}, 64)}
	g := detect.NewGuard(detect.Config{HoldDown: time.Millisecond}, m, nopReporter{}, nil)
	defer g.Close()
	src, err := hooks.New(hooks.Options{Display: env.Display, XAuthority: env.XAuthority, NoClipboard: true, NoAccessibility: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	started, done := make(chan error, 1), make(chan error, 1)
	go func() { done <- src.Run(ctx, started, g) }()
	if err := <-started; err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); <-done }()

	c, err := x11.Dial(ctx, env.Display, env.XAuthority)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Extension("XTEST"); err != nil {
		b.Fatal(err)
	}
	km, err := c.LoadKeymap()
	if err != nil {
		b.Fatal(err)
	}
	code := func(sym xproto.Keysym) byte {
		for kc := 8; kc < 256; kc++ {
			if km.Sym(byte(kc), 0) == sym {
				return byte(kc)
			}
		}
		b.Fatalf("no keycode for %#x", sym)
		return 0
	}
	five, bs := code('5'), code(0xff08)
	tap := func(kc byte) {
		xtest.FakeInput(c.X, xproto.KeyPress, kc, 0, c.Root, 0, 0, 0)
		xtest.FakeInput(c.X, xproto.KeyRelease, kc, 0, c.Root, 0, 0, 0)
	}
	lat := make([]time.Duration, 0, 1024)
	for b.Loop() {
		for i := 0; i < 3; i++ {
			tap(five)
		}
		if err := xtest.FakeInputChecked(c.X, xproto.KeyRelease, five, 0, c.Root, 0, 0, 0).Check(); err != nil {
			b.Fatal(err) // flushes the first three before the clock starts
		}
		sent := time.Now()
		xtest.FakeInput(c.X, xproto.KeyPress, five, 0, c.Root, 0, 0, 0)
		shownAt := <-m.shown
		lat = append(lat, shownAt.Sub(sent))
		xtest.FakeInput(c.X, xproto.KeyRelease, five, 0, c.Root, 0, 0, 0)
		for i := 0; i < 4; i++ {
			tap(bs)
		}
		<-m.hid
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		b.ReportMetric(float64(lat[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[(n-1)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[n-1].Microseconds()), "max-µs")
		// Share of masks slower than one keystroke at 5 ms per key (what masking at the 6th
		// digit can afford) and than three (what masking at the 4th can).
		over := func(d time.Duration) float64 {
			i := sort.Search(n, func(i int) bool { return lat[i] > d })
			return 100 * float64(n-i) / float64(n)
		}
		b.ReportMetric(over(5*time.Millisecond), "%>5ms")
		b.ReportMetric(over(15*time.Millisecond), "%>15ms")
	}
}

type nopReporter struct{}

func (nopReporter) Open(detect.Episode)  {}
func (nopReporter) Close(detect.Episode) {}
