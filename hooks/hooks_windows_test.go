//go:build windows

package hooks

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
	"pcipause/overlay"
)

// usLayout and azertyLayout stand in for VkKeyScanEx: low byte virtual key, high byte shift
// state (1 Shift, 2 Ctrl, 4 Alt).
func usLayout(ch uint16) int16 { return int16(ch) } // '0'..'9' are VK_0..VK_9, no modifier

func azertyLayout(ch uint16) int16 { return int16(ch) | 1<<8 } // digits need Shift

func TestClassifyVK(t *testing.T) {
	us := buildDigitTable(usLayout)
	fr := buildDigitTable(azertyLayout)
	shift := modState{shift: true}
	ctrl := modState{ctrl: true}
	tests := []struct {
		name   string
		table  *[256]uint16
		vk     uint32
		mods   modState
		want   Key
		wantOK bool
	}{
		{"us digit", &us, '7', modState{}, Key{Code: KeyDigit, Digit: '7'}, true},
		{"us shifted digit is a symbol", &us, '7', shift, Key{Code: KeyOther}, true},
		{"azerty unshifted top row is a symbol", &fr, '7', modState{}, Key{Code: KeyOther}, true},
		{"azerty shifted top row is a digit", &fr, '7', shift, Key{Code: KeyDigit, Digit: '7'}, true},
		{"keypad digit", &us, winsys.VK_NUMPAD0 + 4, modState{}, Key{Code: KeyDigit, Digit: '4'}, true},
		{"space", &us, winsys.VK_SPACE, modState{}, Key{Code: KeySeparator}, true},
		{"dash", &us, winsys.VK_OEM_MINUS, modState{}, Key{Code: KeySeparator}, true},
		{"keypad minus", &us, winsys.VK_SUBTRACT, modState{}, Key{Code: KeySeparator}, true},
		{"underscore is not a separator", &us, winsys.VK_OEM_MINUS, shift, Key{Code: KeyOther}, true},
		{"backspace", &us, winsys.VK_BACK, modState{}, Key{Code: KeyBackspace}, true},
		{"delete", &us, winsys.VK_DELETE, modState{}, Key{Code: KeyDelete}, true},
		{"ctrl+v", &us, winsys.VK_V, ctrl, Key{Code: KeyPaste}, true},
		{"shift+insert", &us, winsys.VK_INSERT, shift, Key{Code: KeyPaste}, true},
		{"ctrl+a", &us, winsys.VK_A, ctrl, Key{Code: KeySelectAll}, true},
		{"ctrl+u", &us, winsys.VK_U, ctrl, Key{Code: KeyClearLine}, true},
		{"ctrl+c does not edit", &us, winsys.VK_C, ctrl, Key{}, false},
		{"ctrl+insert does not edit", &us, winsys.VK_INSERT, ctrl, Key{}, false},
		{"win+d does not type", &us, 'D', modState{lwin: true}, Key{}, false},
		{"enter", &us, winsys.VK_RETURN, modState{}, Key{Code: KeyEnter}, true},
		{"tab", &us, winsys.VK_TAB, shift, Key{Code: KeyTab}, true},
		{"escape", &us, winsys.VK_ESCAPE, modState{}, Key{Code: KeyEscape}, true},
		{"shift alone", &us, winsys.VK_LSHIFT, modState{}, Key{Code: KeyModifier}, true},
		{"letter", &us, 'Q', modState{}, Key{Code: KeyOther}, true},
		{"arrow", &us, winsys.VK_LEFT, modState{}, Key{Code: KeyOther}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := classifyVK(tt.vk, tt.mods, tt.table)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("classifyVK(%#x, %+v) = %+v, %v; want %+v, %v", tt.vk, tt.mods, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestModifierTracking(t *testing.T) {
	p := &pump{digitKey: buildDigitTable(usLayout)}
	steps := []struct {
		vk   uint32
		down bool
		want Key
		ok   bool
	}{
		{winsys.VK_LCONTROL, true, Key{Code: KeyModifier}, true},
		{winsys.VK_V, true, Key{Code: KeyPaste}, true},
		{winsys.VK_V, false, Key{}, false},
		{winsys.VK_LCONTROL, false, Key{}, false},
		{winsys.VK_V, true, Key{Code: KeyOther}, true},
		{'5', true, Key{Code: KeyDigit, Digit: '5'}, true},
	}
	for i, s := range steps {
		got, ok := p.classify(s.vk, s.down)
		if got != s.want || ok != s.ok {
			t.Fatalf("step %d: classify(%#x, %v) = %+v, %v; want %+v, %v", i, s.vk, s.down, got, ok, s.want, s.ok)
		}
	}
}

func TestClassifyAllocs(t *testing.T) {
	p := &pump{digitKey: buildDigitTable(usLayout)}
	if n := testing.AllocsPerRun(100, func() { p.classify('4', true); p.classify('4', false) }); n != 0 {
		t.Fatalf("classify allocates %v times per key", n)
	}
}

func utf16(s string) []uint16 { return windows.StringToUTF16(s) }

func TestTextHoldsPAN(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"4111111111111111", true},
		{"card: 4111 1111 1111 1111 thanks", true},
		{"5500-0055-5555-5559", true},
		{"340000000000009", true},
		{"6011000990139424\r\n", true},
		{"4111111111111112", false},
		{"411111", false},
		{"", false},
		{"4111  1111 1111 1111", false}, // a double space ends the run
		{"ref 3333333333333333333", false},
		{"00000000000000000000", false},
		{"x4111111111111111y", true},
		{strings.Repeat("9", 40) + " 4111111111111111", true},
		{"４１１１ 4111111111111111", true},                        // full-width digits end a run
		{"4111\u00a01111 1111 1111", false},                    // a no-break space is not a separator
		{strings.Repeat("x", 200) + "4111111111111111", false}, // beyond the buffer: not seen
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("len%d", len(tt.text)), func(t *testing.T) {
			if got := textHoldsPAN(make([]byte, 128), utf16(tt.text)); got != tt.want {
				t.Fatalf("textHoldsPAN(case %d chars) = %v, want %v", len(tt.text), got, tt.want)
			}
		})
	}
}

func FuzzTextHoldsPAN(f *testing.F) {
	for _, s := range []string{"4111111111111111", "4111 1111-1111 1111", "", "-- -", "0000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		buf := make([]byte, 32)
		textHoldsPAN(buf, utf16(s)) // must not panic on any text, even longer than buf
		for _, b := range buf {
			if b != 0 {
				t.Fatal("buffer not wiped")
			}
		}
	})
}

func TestHookStats(t *testing.T) {
	var s hookStats
	for range 98 {
		s.add(30 * time.Microsecond)
	}
	s.add(3 * time.Millisecond)
	s.add(5 * time.Millisecond)
	if got := s.quantile(0.5); got != 32*time.Microsecond {
		t.Errorf("p50 = %v, want 32µs", got)
	}
	if got := s.quantile(1); got != 5*time.Millisecond {
		t.Errorf("p100 = %v, want 5ms", got)
	}
	if s.max != 5*time.Millisecond || s.n != 100 {
		t.Errorf("max %v n %d", s.max, s.n)
	}
}

// recorder is a Sink that forwards events to channels.
type recorder struct {
	keys  chan Key
	focus chan Focus
	moved chan Window
	clip  chan bool
	onKey func(Key)
}

func newRecorder() *recorder {
	return &recorder{keys: make(chan Key, 256), focus: make(chan Focus, 64), moved: make(chan Window, 64), clip: make(chan bool, 16)}
}

func (r *recorder) Focus(f Focus) {
	select {
	case r.focus <- f:
	default:
	}
}

func (r *recorder) Moved(w Window) {
	select {
	case r.moved <- w:
	default:
	}
}

func (r *recorder) Key(k Key) {
	if r.onKey != nil {
		r.onKey(k)
	}
	r.keys <- k
}
func (r *recorder) Clipboard(b bool) { r.clip <- b }

// startSource runs a Windows source until the test ends. It needs a desktop (Windows, or Wine
// on an X display).
func startSource(t testing.TB, opts Options, sink Sink) {
	t.Helper()
	src, err := New(opts, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, started, sink) }()
	if err := <-started; err != nil {
		cancel()
		t.Fatalf("Run start-up: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func sendKeys(t testing.TB, vks ...uint16) {
	t.Helper()
	in := make([]winsys.KEYBDINPUT, 0, 2*len(vks))
	for _, vk := range vks {
		in = append(in, winsys.KEYBDINPUT{Type: winsys.INPUT_KEYBOARD, Vk: vk},
			winsys.KEYBDINPUT{Type: winsys.INPUT_KEYBOARD, Vk: vk, Flags: winsys.KEYEVENTF_KEYUP})
	}
	if n, err := winsys.SendInput(uint32(len(in)), &in[0], int32(unsafe.Sizeof(in[0]))); n != uint32(len(in)) {
		t.Fatalf("SendInput sent %d of %d: %v", n, len(in), err)
	}
}

func TestRunSeesInjectedKeys(t *testing.T) {
	rec := newRecorder()
	startSource(t, Options{NoClipboard: true}, rec)
	// Ctrl is sent as its own press/release pairs, so only the digits and the edits are checked.
	seq := []uint16{'4', '1', '1', '1', winsys.VK_SPACE, '1', winsys.VK_BACK, winsys.VK_NUMPAD0 + 9, winsys.VK_DELETE}
	want := []Key{
		{Code: KeyDigit, Digit: '4'}, {Code: KeyDigit, Digit: '1'}, {Code: KeyDigit, Digit: '1'},
		{Code: KeyDigit, Digit: '1'}, {Code: KeySeparator}, {Code: KeyDigit, Digit: '1'},
		{Code: KeyBackspace}, {Code: KeyDigit, Digit: '9'}, {Code: KeyDelete},
	}
	sendKeys(t, seq...)
	for i, w := range want {
		select {
		case got := <-rec.keys:
			if got.Code != w.Code || got.Digit != w.Digit || got.At.IsZero() {
				t.Fatalf("key %d = %v/%q, want %v/%q", i, got.Code, got.Digit, w.Code, w.Digit)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("key %d never reached the sink", i)
		}
	}
}

func TestClipboardClassified(t *testing.T) {
	rec := newRecorder()
	startSource(t, Options{}, rec)
	<-rec.clip // the initial state
	tests := []struct {
		text string
		want bool
	}{
		{"4111 1111 1111 1111", true},
		{"hello", false},
		{"5500005555555559", true},
		{"4111111111111112", false},
	}
	for i, tt := range tests {
		setClipboard(t, tt.text)
		deadline := time.After(10 * time.Second)
		for {
			var got bool
			select {
			case got = <-rec.clip:
			case <-deadline:
				t.Fatalf("case %d: no clipboard report", i)
			}
			if got == tt.want {
				break
			}
			// Some desktops report one change as several updates; wait for the settled one.
		}
	}
}

func setClipboard(t *testing.T, s string) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u := windows.StringToUTF16(s)
	h, err := winsys.GlobalAlloc(winsys.GMEM_MOVEABLE, uintptr(len(u)*2))
	if err != nil {
		t.Fatalf("GlobalAlloc: %v", err)
	}
	ptr, err := winsys.GlobalLock(h)
	if err != nil {
		t.Fatalf("GlobalLock: %v", err)
	}
	dst := unsafe.Slice(*(**uint16)(unsafe.Pointer(&ptr)), len(u))
	copy(dst, u)
	_ = winsys.GlobalUnlock(h)
	if err := winsys.OpenClipboard(0); err != nil {
		t.Fatalf("OpenClipboard: %v", err)
	}
	defer winsys.CloseClipboard()
	if err := winsys.EmptyClipboard(); err != nil {
		t.Fatalf("EmptyClipboard: %v", err)
	}
	if _, err := winsys.SetClipboardData(winsys.CF_UNICODETEXT, h); err != nil {
		t.Fatalf("SetClipboardData: %v", err)
	}
}

// BenchmarkInjectedKeyToSink measures a key from SendInput to the hook's Sink.Key call and
// reports the time spent inside the hook callback (here: the recorder only).
func BenchmarkInjectedKeyToSink(b *testing.B) {
	rec := newRecorder()
	startSource(b, Options{NoClipboard: true}, rec)
	for b.Loop() {
		sendKeys(b, '5')
		<-rec.keys
	}
}

// BenchmarkHookShowsMask is the Windows key path as the guard runs it: each injected key
// reaches the hook, whose Sink.Key shows (or hides) the real overlay before returning. It
// reports the time spent inside the hook callback — what LowLevelHooksTimeout bounds and
// what delays the key on its way to the application.
func BenchmarkHookShowsMask(b *testing.B) {
	ov, err := overlay.New(context.Background(), overlay.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ov.Close()
	rec := newRecorder()
	n := 0
	rec.onKey = func(Key) {
		n++
		if n%2 == 1 {
			_ = ov.Show(image.Rect(100, 100, 500, 140), "Hidden from recording · 7 digits")
		} else {
			_ = ov.Hide()
		}
	}
	var src *winSource
	s, err := New(Options{NoClipboard: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	src = s.(*winSource)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	done := make(chan error, 1)
	stats := make(chan hookStats, 1)
	go func() { done <- src.run(ctx, started, rec, stats) }()
	if err := <-started; err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sendKeys(b, '5')
		<-rec.keys
	}
	cancel()
	<-done
	st := <-stats
	b.ReportMetric(float64(st.quantile(0.5).Microseconds()), "hook-p50-µs")
	b.ReportMetric(float64(st.quantile(0.99).Microseconds()), "hook-p99-µs")
	b.ReportMetric(float64(st.max.Microseconds()), "hook-max-µs")
}

// TestHookRenewal: the keyboard hook is replaced regularly (so one Windows removed after a
// timeout comes back); keys typed across replacements arrive exactly once, in order.
func TestHookRenewal(t *testing.T) {
	s, err := New(Options{NoClipboard: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := s.(*winSource)
	src.rehookMs = 20
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, started, rec) }()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	digits := []uint16{'1', '2', '3', '4', '5', '6'}
	for round := range 4 {
		before := src.rehooks.Load()
		deadline := time.Now().Add(30 * time.Second) // a failsafe, not a speed assertion
		for src.rehooks.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the hook was never renewed", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
		sendKeys(t, digits...)
		for i, d := range digits {
			select {
			case k := <-rec.keys:
				if k.Code != KeyDigit || k.Digit != byte(d) {
					t.Fatalf("round %d key %d = %v/%q, want digit %q", round, i, k.Code, k.Digit, byte(d))
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: key %d lost", round, i)
			}
		}
	}
	select {
	case k := <-rec.keys:
		t.Fatalf("an extra key arrived: %v (a key seen by two hooks)", k.Code)
	default:
	}
	if n := src.lost.Load(); n != 0 {
		t.Fatalf("%d hooks reported removed by the system", n)
	}
}
