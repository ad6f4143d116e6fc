//go:build linux

package hooks

import (
	"context"
	"image"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"pcipause/hooks/internal/xvfbtest"
	"pcipause/hooks/x11"
)

// recorder is a Sink that forwards every event to a channel.
type recorder struct{ ev chan any }

func newRecorder() *recorder             { return &recorder{ev: make(chan any, 4096)} }
func (r *recorder) Focus(f Focus)        { r.ev <- f }
func (r *recorder) Moved(w Window)       { r.ev <- w }
func (r *recorder) Key(k Key)            { r.ev <- k }
func (r *recorder) Clipboard(holds bool) { r.ev <- holds }

// next waits for the first event satisfying ok; it fails the test if none comes in 20 s
// (a hang guard, not a speed assertion).
func (r *recorder) next(t *testing.T, what string, ok func(any) bool) any {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-r.ev:
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within 20s", what)
		}
	}
}

func startSource(t *testing.T, env *xvfbtest.Env, opts Options) *recorder {
	t.Helper()
	opts.Display, opts.XAuthority = env.Display, env.XAuthority
	src, err := New(opts, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder()
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, started, rec) }()
	if err := <-started; err != nil {
		cancel()
		t.Fatalf("source did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel", err)
		}
	})
	return rec
}

// xwininfoBounds asks xwininfo (not our code) where a window is.
func xwininfoBounds(t *testing.T, env *xvfbtest.Env, id string) image.Rectangle {
	out := env.Output(t, "xwininfo", "-id", id)
	val := func(key string) int {
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, key) {
				n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, key)))
				if err != nil {
					t.Fatalf("xwininfo %s: %v", key, err)
				}
				return n
			}
		}
		t.Fatalf("xwininfo has no %q", key)
		return 0
	}
	x, y := val("Absolute upper-left X:"), val("Absolute upper-left Y:")
	return image.Rect(x, y, x+val("Width:"), y+val("Height:"))
}

// TestX11SourceXterm types into a real xterm under Xvfb + openbox with xdotool and checks
// what the source reports: focus (pid, exe, class, geometry), every key in order, moves,
// paste and select-all shortcuts, and the window going away.
func TestX11SourceXterm(t *testing.T) {
	xvfbtest.Need(t, "xterm", "xdotool", "xwininfo")
	env := xvfbtest.New(t, true)
	rec := startSource(t, env, Options{NoClipboard: true})

	xt := env.Start(t, "xterm", "-geometry", "80x24+40+60", "-e", "cat")
	wid := env.Output(t, "xdotool", "search", "--sync", "--onlyvisible", "--pid", strconv.Itoa(xt.Process.Pid))
	wid = strings.Fields(wid)[0]
	env.Output(t, "xdotool", "windowactivate", "--sync", wid)

	f := rec.next(t, "focus on xterm", func(e any) bool {
		f, ok := e.(Focus)
		return ok && f.Window.PID == xt.Process.Pid
	}).(Focus)
	if f.Window.Exe != "xterm" || f.Window.Class != "XTerm" || strconv.FormatUint(f.Window.ID, 10) != wid {
		t.Errorf("focus window = id %d exe %q class %q, want id %s exe xterm class XTerm", f.Window.ID, f.Window.Exe, f.Window.Class, wid)
	}
	if want := xwininfoBounds(t, env, wid); f.Window.Bounds != want {
		t.Errorf("focus bounds %v, xwininfo says %v", f.Window.Bounds, want)
	}

	const typedText = "4111 1111-1111 1111"
	env.Output(t, "xdotool", "type", "--delay", "20", typedText)
	var got []byte
	for len(got) < len(typedText) {
		k := rec.next(t, "key", func(e any) bool { k, ok := e.(Key); return ok && k.Code != KeyModifier }).(Key)
		switch k.Code {
		case KeyDigit:
			got = append(got, k.Digit)
		case KeySeparator:
			got = append(got, '_')
		default:
			got = append(got, '?')
		}
		if k.At.IsZero() {
			t.Fatal("key without arrival time")
		}
	}
	want := strings.NewReplacer(" ", "_", "-", "_").Replace(typedText)
	if string(got) != want {
		// Do not print the digits: report where they differ.
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("key %d of %d differs (%d keys seen)", i, len(want), len(got))
			}
		}
	}

	for _, tc := range []struct {
		keys string
		want KeyCode
	}{
		{"BackSpace", KeyBackspace}, {"Delete", KeyDelete}, {"Return", KeyEnter}, {"Tab", KeyTab},
		{"Escape", KeyEscape}, {"ctrl+v", KeyPaste}, {"shift+Insert", KeyPaste}, {"ctrl+shift+v", KeyPaste},
		{"ctrl+a", KeySelectAll}, {"ctrl+u", KeyClearLine}, {"x", KeyOther}, {"KP_Subtract", KeySeparator},
	} {
		env.Output(t, "xdotool", "key", tc.keys)
		k := rec.next(t, tc.keys, func(e any) bool { k, ok := e.(Key); return ok && k.Code != KeyModifier }).(Key)
		if k.Code != tc.want {
			t.Errorf("xdotool key %s: got %v, want %v", tc.keys, k.Code, tc.want)
		}
	}

	env.Output(t, "xdotool", "set_window", "--name", "PAYMENT screen", wid)
	rec.next(t, "focus with the new title", func(e any) bool {
		f, ok := e.(Focus)
		return ok && strconv.FormatUint(f.Window.ID, 10) == wid && f.Window.Title == "PAYMENT screen"
	})

	env.Output(t, "xdotool", "click", "2")
	rec.next(t, "middle click", func(e any) bool { k, ok := e.(Key); return ok && k.Code == KeyPrimaryPaste })

	env.Output(t, "xdotool", "windowmove", "--sync", wid, "300", "200")
	moved := xwininfoBounds(t, env, wid)
	rec.next(t, "move", func(e any) bool {
		w, ok := e.(Window)
		return ok && strconv.FormatUint(w.ID, 10) == wid && w.Bounds == moved
	})

	// Minimised is not gone: no empty bounds before the marker key typed afterwards.
	env.Output(t, "xdotool", "windowminimize", "--sync", wid)
	env.Output(t, "xdotool", "key", "Escape")
	rec.next(t, "marker key", func(e any) bool {
		if w, ok := e.(Window); ok && w.Bounds.Empty() {
			t.Fatal("a minimised window was reported as gone")
		}
		k, ok := e.(Key)
		return ok && k.Code == KeyEscape
	})

	_ = xt.Process.Kill()
	rec.next(t, "window gone", func(e any) bool {
		w, ok := e.(Window)
		return ok && strconv.FormatUint(w.ID, 10) == wid && w.Bounds.Empty()
	})
}

// TestX11SourceKeypadAndShift drives keycodes through XTEST (as a keyboard would) to check
// the keymap rules: keypad digits with NumLock, keypad navigation without it, and shifted
// digits.
func TestX11SourceKeypadAndShift(t *testing.T) {
	env := xvfbtest.New(t, false)
	// The display comes from $DISPLAY and the cookie from $XAUTHORITY when Options leave them empty.
	t.Setenv("DISPLAY", env.Display)
	t.Setenv("XAUTHORITY", env.XAuthority)
	src, err := New(Options{NoClipboard: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder()
	started, done := make(chan error, 1), make(chan error, 1)
	go func() { done <- src.Run(ctx, started, rec) }()
	defer func() { cancel(); <-done }()
	if err := <-started; err != nil {
		t.Fatalf("source from $DISPLAY/$XAUTHORITY did not start: %v", err)
	}
	c, km := xtestConn(t, env)
	code := func(sym xproto.Keysym) byte {
		for kc := 8; kc < 256; kc++ {
			for col := 0; col < 2; col++ {
				if km.Sym(byte(kc), col) == sym {
					return byte(kc)
				}
			}
		}
		t.Fatalf("no keycode for keysym %#x", sym)
		return 0
	}
	press := func(kc byte, down bool) {
		typ := byte(xproto.KeyPress)
		if !down {
			typ = xproto.KeyRelease
		}
		if err := xtest.FakeInputChecked(c.X, typ, kc, 0, c.Root, 0, 0, 0).Check(); err != nil {
			t.Fatal(err)
		}
	}
	tap := func(kc byte) { press(kc, true); press(kc, false) }
	nextKey := func(what string) Key {
		return rec.next(t, what, func(e any) bool { k, ok := e.(Key); return ok && k.Code != KeyModifier }).(Key)
	}
	kp1, num, shift := code(0xffb1), code(x11.KeysymNumLock), code(x11.KeysymShiftL)

	tap(kp1) // NumLock off: KP_End
	if k := nextKey("KP_End"); k.Code != KeyOther {
		t.Errorf("keypad 1 without NumLock: %v, want other", k.Code)
	}
	tap(num)
	tap(kp1)
	if k := nextKey("KP_1"); k.Code != KeyDigit || k.Digit != '1' {
		t.Errorf("keypad 1 with NumLock: %v %q, want digit", k.Code, k.Digit)
	}
	press(shift, true)
	tap(kp1) // Shift inverts NumLock on the keypad
	if k := nextKey("shift KP_1"); k.Code != KeyOther {
		t.Errorf("shift+keypad 1 with NumLock: %v, want other", k.Code)
	}
	tap(code('1')) // '!' on a US layout
	if k := nextKey("shift 1"); k.Code != KeyOther {
		t.Errorf("shift+1 on US layout: %v, want other", k.Code)
	}
	press(shift, false)
	tap(num)
	tap(code('1'))
	if k := nextKey("1"); k.Code != KeyDigit || k.Digit != '1' {
		t.Errorf("1: %v %q", k.Code, k.Digit)
	}
}

// xtestConn is a second connection with XTEST, for injecting keys.
func xtestConn(t testing.TB, env *xvfbtest.Env) (*x11.Conn, *x11.Keymap) {
	t.Helper()
	c, err := x11.Dial(context.Background(), env.Display, env.XAuthority)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Extension("XTEST"); err != nil {
		t.Fatal(err)
	}
	km, err := c.LoadKeymap()
	if err != nil {
		t.Fatal(err)
	}
	return c, km
}

// BenchmarkX11KeyArrival measures XTEST key press sent -> Sink.Key called, through Xvfb,
// the framed connection and the keymap: the hooks' share of key-to-mask latency.
func BenchmarkX11KeyArrival(b *testing.B) {
	env := xvfbtest.New(b, true) // with a window manager, as on a desktop (else focus is polled per key)
	opts := Options{Display: env.Display, XAuthority: env.XAuthority, NoClipboard: true}
	src, err := New(opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, started, rec) }()
	if err := <-started; err != nil {
		b.Fatal(err)
	}
	c, km := xtestConn(b, env)
	var kc byte
	for i := 8; i < 256 && kc == 0; i++ {
		if km.Sym(byte(i), 0) == '5' {
			kc = byte(i)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		sent := time.Now()
		xtest.FakeInput(c.X, xproto.KeyPress, kc, 0, c.Root, 0, 0, 0)
		for {
			e := <-rec.ev
			if k, ok := e.(Key); ok && k.Code == KeyDigit {
				lat = append(lat, time.Since(sent))
				break
			}
		}
		xtest.FakeInput(c.X, xproto.KeyRelease, kc, 0, c.Root, 0, 0, 0)
	}
	b.StopTimer()
	cancel()
	<-done
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
		b.ReportMetric(pct(0.5), "p50-µs")
		b.ReportMetric(pct(0.99), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
}

// TestX11SourceZenityField checks that a GTK form's focused entry is reported with its role,
// label and bounds (AT-SPI on a private session bus) as part of the focus.
func TestX11SourceZenityField(t *testing.T) {
	xvfbtest.Need(t, "zenity", "xdotool", "dbus-daemon")
	if _, err := os.Stat("/usr/libexec/at-spi-bus-launcher"); err != nil {
		t.Skip("at-spi2-core is not installed (make deps installs it)")
	}
	env := xvfbtest.New(t, true)
	env.SessionBus(t)
	rec := startSource(t, env, Options{NoClipboard: true})
	z := env.Start(t, "zenity", "--forms", "--title=Payment", "--add-entry=Card number", "--add-entry=Name")
	wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--onlyvisible", "--pid", strconv.Itoa(z.Process.Pid)))[0]
	env.Output(t, "xdotool", "windowactivate", "--sync", wid)
	f := rec.next(t, "focus on the card entry", func(e any) bool {
		f, ok := e.(Focus)
		return ok && f.Window.PID == z.Process.Pid && f.Field.Label == "Card number"
	}).(Focus)
	if f.Field.Role != "text" || f.Field.Bounds.Empty() || !f.Field.Bounds.In(f.Window.Bounds) {
		t.Fatalf("field %+v in window %v", f.Field, f.Window.Bounds)
	}
	env.Output(t, "xdotool", "key", "Tab")
	rec.next(t, "focus on the name entry", func(e any) bool {
		f, ok := e.(Focus)
		return ok && f.Window.PID == z.Process.Pid && f.Field.Label == "Name"
	})
}

// TestX11SourceWithoutWindowManager: with no EWMH window manager the focus is read from the
// core input focus when a key is pressed, so keys are still attributed to the right window.
func TestX11SourceWithoutWindowManager(t *testing.T) {
	xvfbtest.Need(t, "xterm", "xdotool")
	env := xvfbtest.New(t, false)
	rec := startSource(t, env, Options{NoClipboard: true, NoAccessibility: true})
	xt := env.Start(t, "xterm", "-geometry", "40x10+30+40", "-e", "cat")
	wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--onlyvisible", "--pid", strconv.Itoa(xt.Process.Pid)))[0]
	env.Output(t, "xdotool", "windowfocus", "--sync", wid)
	env.Output(t, "xdotool", "type", "12")
	var focused bool
	rec.next(t, "first digit", func(e any) bool {
		if f, ok := e.(Focus); ok && f.Window.PID == xt.Process.Pid {
			focused = true
			if f.Window.Exe != "xterm" || f.Window.Bounds.Empty() {
				t.Errorf("focus %+v", f.Window)
			}
		}
		k, ok := e.(Key)
		return ok && k.Code == KeyDigit
	})
	if !focused {
		t.Fatal("the xterm's focus was not reported before its first key")
	}
}

// TestX11SourceWindowIDReused: the X server hands a closed client's resource ids to the next
// client, so a new xterm's window often has the id of one that just closed. Its activation
// must still be reported as a focus change (with its bounds); it used to be taken for the
// dead window, whose empty bounds made every mask cover the whole screen.
func TestX11SourceWindowIDReused(t *testing.T) {
	xvfbtest.Need(t, "xterm", "xdotool", "openbox")
	env := xvfbtest.New(t, true)
	rec := startSource(t, env, Options{NoClipboard: true, NoAccessibility: true})
	start := func(title string) (*os.Process, string) {
		xt := env.Start(t, "xterm", "-title", title, "-geometry", "40x10+30+40", "-e", "cat")
		wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--onlyvisible", "--pid", strconv.Itoa(xt.Process.Pid)))[0]
		env.Output(t, "xdotool", "windowactivate", "--sync", wid)
		return xt.Process, wid
	}
	focusOf := func(pid int) Focus {
		return rec.next(t, "focus of the xterm", func(e any) bool {
			f, ok := e.(Focus)
			return ok && f.Window.PID == pid
		}).(Focus)
	}
	a, aid := start("first")
	fa := focusOf(a.Pid)
	a.Kill()
	rec.next(t, "the first xterm gone", func(e any) bool {
		w, ok := e.(Window)
		return ok && w.ID == fa.Window.ID && w.Bounds.Empty()
	})
	b, bid := start("second")
	fb := focusOf(b.Pid)
	if fb.Window.Bounds.Empty() {
		t.Errorf("second xterm focused without bounds: %+v", fb.Window)
	}
	t.Logf("window ids: first %s, second %s (reused: %v)", aid, bid, aid == bid)
}
