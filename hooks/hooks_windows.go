//go:build windows

package hooks

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
	"pcipause/hooks/card"
)

// The Windows source runs everything on one locked OS thread with a message loop:
//   - WH_KEYBOARD_LL: Windows calls the hook on this thread before the key is delivered to the
//     focused application and waits for it to return, so Sink.Key (which shows the mask) runs
//     before the application sees the key. The time spent in each call is measured.
//   - WinEvents (out of context, delivered to this thread): EVENT_SYSTEM_FOREGROUND and
//     EVENT_OBJECT_FOCUS for focus, EVENT_OBJECT_LOCATIONCHANGE / HIDE / DESTROY for Moved.
//   - A timer that re-reads GetForegroundWindow, because some desktops (Wine) never send
//     EVENT_SYSTEM_FOREGROUND.
//   - A message-only window registered with AddClipboardFormatListener: each clipboard change
//     is classified (card.ContainsPAN) from the clipboard's own memory through a reused buffer
//     that is wiped at once; only the bool leaves.
//
// The focused control's rectangle comes from GetGUIThreadInfo; UI Automation (accessible name,
// automation id) is not implemented, so Field.Label and Field.AutomationID stay empty and field
// rules on Windows match by window and rectangle only.

const (
	focusPollInterval = 150 // ms; fallback for missing EVENT_SYSTEM_FOREGROUND
	focusTimerID      = 1
	rehookTimerID     = 2
	// rehookInterval: how often the keyboard hook is replaced by a fresh one. Windows 7 and
	// later silently remove a low-level hook whose call overruns LowLevelHooksTimeout, which
	// would end masking without a trace; replacing it regularly bounds that gap, and finding
	// the old handle already gone tells us it happened.
	rehookInterval    = 2000    // ms
	clipboardMaxChars = 1 << 16 // longer clipboard text is classified by its first 64 Ki chars
	watchedWindows    = 8       // windows reported by Focus that Moved follows
	wmStop            = winsys.WM_APP + 10
)

type winSource struct {
	opts Options
	log  *slog.Logger
	busy atomic.Bool

	rehookMs uint32       // 0: rehookInterval (tests shorten it)
	rehooks  atomic.Int64 // hook replacements so far
	lost     atomic.Int64 // replacements that found the old hook removed by Windows
}

var _ Source = (*winSource)(nil)

func newSource(opts Options, log *slog.Logger) (Source, error) {
	return &winSource{opts: opts, log: log}, nil
}

// pump is the state of one Run; it lives on the hook thread only.
type pump struct {
	src    *winSource
	inst   windows.Handle
	kbProc uintptr
	log    *slog.Logger
	sink   Sink
	hwnd   windows.HWND // message-only window: clipboard listener and timer
	kbHook windows.Handle
	evHook []windows.Handle

	mods     modState
	layout   windows.Handle
	digitKey [256]uint16 // per virtual key: bit (shift state 0..7) set when it types a digit; digit in high byte

	lastFG    windows.HWND
	lastFocus Focus
	watched   [watchedWindows]Window
	nextWatch int

	clipBuf []byte // ASCII copy of the clipboard text while it is classified; wiped after
	stats   hookStats
}

// modState tracks modifiers from the hook's own key stream: inside WH_KEYBOARD_LL,
// GetKeyState does not yet reflect the key being processed.
type modState struct{ shift, ctrl, alt, lwin, rwin bool }

func (m modState) bits() int {
	b := 0
	if m.shift {
		b |= 1
	}
	if m.ctrl {
		b |= 2
	}
	if m.alt {
		b |= 4
	}
	return b
}

// Run implements Source. It pins the calling goroutine to its OS thread for the hook's life.
func (s *winSource) Run(ctx context.Context, started chan<- error, sink Sink) error {
	return s.run(ctx, started, sink, nil)
}

// run is Run; stats, if not nil, receives the hook timing histogram when it stops.
func (s *winSource) run(ctx context.Context, started chan<- error, sink Sink, stats chan<- hookStats) error {
	if !s.busy.CompareAndSwap(false, true) {
		err := fmt.Errorf("hooks: source already running")
		started <- err
		return err
	}
	defer s.busy.Store(false)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	p := &pump{log: s.log, sink: sink, src: s}
	if err := p.start(s.opts); err != nil {
		p.stop()
		started <- err
		return err
	}
	defer p.stop()
	stopAfter := context.AfterFunc(ctx, func() { _ = winsys.PostMessage(p.hwnd, wmStop, 0, 0) })
	defer stopAfter()
	started <- nil
	p.refreshFocus()
	if !s.opts.NoClipboard {
		p.readClipboard()
	}

	var m winsys.MSG
	for {
		r, err := winsys.GetMessage(&m, 0, 0, 0)
		if r == 0 {
			break
		}
		if err != nil {
			return fmt.Errorf("hooks: message loop: %w", err)
		}
		winsys.TranslateMessage(&m)
		winsys.DispatchMessage(&m)
	}
	p.stats.log(p.log)
	if stats != nil {
		stats <- p.stats
	}
	return nil
}

func (p *pump) start(opts Options) error {
	inst, err := winsys.GetModuleHandle(nil)
	if err != nil {
		return fmt.Errorf("hooks: module handle: %w", err)
	}
	cls, _ := windows.UTF16PtrFromString(fmt.Sprintf("pcipause.hooks.%p", p))
	wc := winsys.WNDCLASSEX{WndProc: windows.NewCallback(p.wndProc), Instance: inst, ClassName: cls}
	wc.Size = uint32(unsafe.Sizeof(wc))
	if _, err := winsys.RegisterClassEx(&wc); err != nil {
		return fmt.Errorf("hooks: register window class: %w", err)
	}
	p.hwnd, err = winsys.CreateWindowEx(0, cls, cls, 0, 0, 0, 0, 0, windows.HWND(winsys.HWND_MESSAGE), 0, inst, 0)
	if err != nil {
		return fmt.Errorf("hooks: create message window: %w", err)
	}
	p.inst, p.kbProc = inst, windows.NewCallback(p.keyboardProc)
	p.kbHook, err = winsys.SetWindowsHookEx(winsys.WH_KEYBOARD_LL, p.kbProc, inst, 0)
	if err != nil {
		return fmt.Errorf("hooks: install keyboard hook: %w", err)
	}
	every := p.src.rehookMs
	if every == 0 {
		every = rehookInterval
	}
	if _, err := winsys.SetTimer(p.hwnd, rehookTimerID, every, 0); err != nil {
		return fmt.Errorf("hooks: start hook renewal timer: %w", err)
	}
	evCB := windows.NewCallback(p.winEvent)
	for _, r := range [][2]uint32{
		{winsys.EVENT_SYSTEM_FOREGROUND, winsys.EVENT_SYSTEM_FOREGROUND},
		{winsys.EVENT_OBJECT_FOCUS, winsys.EVENT_OBJECT_FOCUS},
		{winsys.EVENT_OBJECT_DESTROY, winsys.EVENT_OBJECT_DESTROY},
		{winsys.EVENT_OBJECT_HIDE, winsys.EVENT_OBJECT_HIDE},
		{winsys.EVENT_OBJECT_LOCATIONCHANGE, winsys.EVENT_OBJECT_LOCATIONCHANGE},
	} {
		h, err := winsys.SetWinEventHook(r[0], r[1], 0, evCB, 0, 0, winsys.WINEVENT_OUTOFCONTEXT|winsys.WINEVENT_SKIPOWNPROCESS)
		if err != nil {
			return fmt.Errorf("hooks: install event hook %#x: %w", r[0], err)
		}
		p.evHook = append(p.evHook, h)
	}
	if _, err := winsys.SetTimer(p.hwnd, focusTimerID, focusPollInterval, 0); err != nil {
		return fmt.Errorf("hooks: start focus poll timer: %w", err)
	}
	if !opts.NoClipboard {
		if err := winsys.AddClipboardFormatListener(p.hwnd); err != nil {
			return fmt.Errorf("hooks: listen for clipboard changes: %w", err)
		}
	}
	p.loadLayout(0)
	return nil
}

func (p *pump) stop() {
	if p.kbHook != 0 {
		_ = winsys.UnhookWindowsHookEx(p.kbHook)
		p.kbHook = 0
	}
	for _, h := range p.evHook {
		winsys.UnhookWinEvent(h)
	}
	p.evHook = nil
	if p.hwnd != 0 {
		_ = winsys.RemoveClipboardFormatListener(p.hwnd)
		_ = winsys.KillTimer(p.hwnd, focusTimerID)
		_ = winsys.KillTimer(p.hwnd, rehookTimerID)
		_ = winsys.DestroyWindow(p.hwnd)
		p.hwnd = 0
	}
}

func (p *pump) wndProc(hwnd windows.HWND, msg uint32, wParam, lParam uintptr) uintptr {
	switch msg {
	case wmStop:
		winsys.PostQuitMessage(0)
		return 0
	case winsys.WM_TIMER:
		switch wParam {
		case focusTimerID:
			p.refreshFocus()
		case rehookTimerID:
			p.rehook()
		}
		return 0
	case winsys.WM_CLIPBOARDUPDATE:
		p.readClipboard()
		return 0
	}
	return winsys.DefWindowProc(hwnd, msg, wParam, lParam)
}

// rehook installs a fresh keyboard hook and removes the old one. Both calls happen inside one
// message of this thread, which is also the thread the hook runs on, so no key can be seen by
// both hooks or by neither.
func (p *pump) rehook() {
	h, err := winsys.SetWindowsHookEx(winsys.WH_KEYBOARD_LL, p.kbProc, p.inst, 0)
	if err != nil {
		p.log.Error("cannot renew the keyboard hook; keeping the old one", "err", err)
		return
	}
	old := p.kbHook
	p.kbHook = h
	p.src.rehooks.Add(1)
	if err := winsys.UnhookWindowsHookEx(old); errors.Is(err, windows.ERROR_INVALID_HOOK_HANDLE) {
		p.src.lost.Add(1)
		p.log.Error("Windows had removed the keyboard hook (a call overran LowLevelHooksTimeout); reinstalled it", "lost_total", p.src.lost.Load())
	}
}

// keyboardProc is the WH_KEYBOARD_LL callback. It must return quickly (LowLevelHooksTimeout);
// Sink.Key is called synchronously so the mask is up before the key is passed on.
func (p *pump) keyboardProc(code int32, wParam uintptr, lParam *winsys.KBDLLHOOKSTRUCT) uintptr {
	if code == winsys.HC_ACTION && lParam != nil {
		t0 := time.Now()
		down := wParam == winsys.WM_KEYDOWN || wParam == winsys.WM_SYSKEYDOWN
		if k, ok := p.classify(lParam.VkCode, down); ok {
			k.At = t0
			p.sink.Key(k)
			p.stats.add(time.Since(t0))
		}
	}
	return winsys.CallNextHookEx(p.kbHook, code, wParam, uintptr(unsafe.Pointer(lParam)))
}

// classify updates the modifier state and maps a virtual key to a Key; ok is false for key
// releases and for keys that do not change the text (Ctrl+C and the like).
func (p *pump) classify(vk uint32, down bool) (Key, bool) {
	switch vk {
	case winsys.VK_SHIFT, winsys.VK_LSHIFT, winsys.VK_RSHIFT:
		p.mods.shift = down
	case winsys.VK_CONTROL, winsys.VK_LCONTROL, winsys.VK_RCONTROL:
		p.mods.ctrl = down
	case winsys.VK_MENU, winsys.VK_LMENU, winsys.VK_RMENU:
		p.mods.alt = down
	case winsys.VK_LWIN:
		p.mods.lwin = down
	case winsys.VK_RWIN:
		p.mods.rwin = down
	}
	if !down || vk > 255 {
		return Key{}, false
	}
	return classifyVK(vk, p.mods, &p.digitKey)
}

// classifyVK maps one key press to a Key given the modifiers held and the layout's digit table.
func classifyVK(vk uint32, m modState, digits *[256]uint16) (Key, bool) {
	switch vk {
	case winsys.VK_SHIFT, winsys.VK_LSHIFT, winsys.VK_RSHIFT, winsys.VK_CONTROL, winsys.VK_LCONTROL,
		winsys.VK_RCONTROL, winsys.VK_MENU, winsys.VK_LMENU, winsys.VK_RMENU, winsys.VK_LWIN,
		winsys.VK_RWIN, winsys.VK_NUMLOCK, winsys.VK_CAPITAL:
		return Key{Code: KeyModifier}, true
	}
	if m.lwin || m.rwin {
		return Key{}, false // shell shortcuts do not type
	}
	if e := digits[vk]; e&(1<<m.bits()) != 0 {
		return Key{Code: KeyDigit, Digit: byte(e >> 8)}, true
	}
	if vk >= winsys.VK_NUMPAD0 && vk <= winsys.VK_NUMPAD9 && !m.ctrl && !m.alt {
		return Key{Code: KeyDigit, Digit: byte('0' + vk - winsys.VK_NUMPAD0)}, true
	}
	ctrlOnly := m.ctrl && !m.alt
	switch {
	case ctrlOnly && vk == winsys.VK_V, m.shift && !m.ctrl && vk == winsys.VK_INSERT:
		return Key{Code: KeyPaste}, true
	case ctrlOnly && vk == winsys.VK_A:
		return Key{Code: KeySelectAll}, true
	case ctrlOnly && vk == winsys.VK_U:
		return Key{Code: KeyClearLine}, true
	case ctrlOnly && (vk == winsys.VK_C || vk == winsys.VK_INSERT):
		return Key{}, false // copy leaves the text alone
	}
	switch vk {
	case winsys.VK_SPACE, winsys.VK_SUBTRACT:
		if !m.ctrl && !m.alt {
			return Key{Code: KeySeparator}, true
		}
	case winsys.VK_OEM_MINUS:
		if !m.shift && !m.ctrl && !m.alt {
			return Key{Code: KeySeparator}, true
		}
	case winsys.VK_BACK:
		return Key{Code: KeyBackspace}, true
	case winsys.VK_DELETE:
		return Key{Code: KeyDelete}, true
	case winsys.VK_RETURN:
		return Key{Code: KeyEnter}, true
	case winsys.VK_TAB:
		return Key{Code: KeyTab}, true
	case winsys.VK_ESCAPE:
		return Key{Code: KeyEscape}, true
	}
	return Key{Code: KeyOther}, true
}

// loadLayout builds the digit table for the keyboard layout of thread tid (0: this thread):
// for each digit, which virtual key with which Shift/Ctrl/Alt state types it (VkKeyScanEx), so
// AZERTY's shifted top row and AltGr layouts are read right.
func (p *pump) loadLayout(tid uint32) {
	hkl := winsys.GetKeyboardLayout(tid)
	if hkl == p.layout && hkl != 0 {
		return
	}
	p.layout = hkl
	p.digitKey = buildDigitTable(func(ch uint16) int16 { return winsys.VkKeyScanEx(ch, hkl) })
}

func buildDigitTable(scan func(uint16) int16) [256]uint16 {
	var t [256]uint16
	for d := uint16('0'); d <= '9'; d++ {
		r := scan(d)
		if r == -1 {
			continue
		}
		vk, state := uint8(r), uint8(r>>8)&7
		t[vk] = t[vk]&0xFF | d<<8 | 1<<state
	}
	return t
}

func (p *pump) winEvent(hook windows.Handle, event uint32, hwnd windows.HWND, idObject, idChild int32, thread, ms uint32) uintptr {
	switch event {
	case winsys.EVENT_SYSTEM_FOREGROUND, winsys.EVENT_OBJECT_FOCUS:
		p.refreshFocus()
	case winsys.EVENT_OBJECT_LOCATIONCHANGE, winsys.EVENT_OBJECT_HIDE, winsys.EVENT_OBJECT_DESTROY:
		if idObject != winsys.OBJID_WINDOW || idChild != winsys.CHILDID_SELF || hwnd == 0 {
			return 0
		}
		p.windowChanged(hwnd, event)
	}
	return 0
}

// windowChanged reports Moved for a watched window, and refreshes the field rectangle when the
// focused control itself moved.
func (p *pump) windowChanged(hwnd windows.HWND, event uint32) {
	id := uint64(hwnd)
	for i := range p.watched {
		w := &p.watched[i]
		if w.ID != id {
			continue
		}
		nw := *w
		if event == winsys.EVENT_OBJECT_LOCATIONCHANGE {
			nw.Bounds = clientBounds(hwnd)
		} else {
			nw.Bounds = image.Rectangle{}
		}
		if nw.Bounds == w.Bounds {
			return
		}
		*w = nw
		if nw.Bounds.Empty() {
			w.ID = 0 // gone; stop following it
		}
		p.sink.Moved(nw)
		if id == p.lastFocus.Window.ID {
			p.lastFocus.Window.Bounds = nw.Bounds
			p.refreshFocus()
		}
		return
	}
}

// refreshFocus reads the foreground window and its focused control and reports a change.
func (p *pump) refreshFocus() {
	fg := windows.GetForegroundWindow()
	var pid uint32
	tid, _ := windows.GetWindowThreadProcessId(fg, &pid)
	if fg != p.lastFG {
		p.lastFG = fg
		p.loadLayout(tid)
	}
	var f Focus
	if fg != 0 {
		f.Window = describeWindow(fg, pid)
		info := windows.GUIThreadInfo{}
		info.Size = uint32(unsafe.Sizeof(info))
		if err := windows.GetGUIThreadInfo(tid, &info); err == nil && info.Focus != 0 && info.Focus != fg {
			f.Field.Role = className(info.Focus)
			f.Field.Bounds = windowBounds(info.Focus)
		}
	}
	if sameFocus(f, p.lastFocus) {
		return
	}
	p.lastFocus = f
	if f.Window.ID != 0 {
		p.watch(f.Window)
	}
	p.sink.Focus(f)
}

func sameFocus(a, b Focus) bool {
	return a.Window.ID == b.Window.ID && a.Window.Bounds == b.Window.Bounds && a.Window.Title == b.Window.Title &&
		a.Field == b.Field
}

func (p *pump) watch(w Window) {
	for i := range p.watched {
		if p.watched[i].ID == w.ID {
			p.watched[i] = w
			return
		}
	}
	p.watched[p.nextWatch] = w
	p.nextWatch = (p.nextWatch + 1) % watchedWindows
}

func describeWindow(hwnd windows.HWND, pid uint32) Window {
	w := Window{ID: uint64(hwnd), PID: int(pid), Class: className(hwnd), Bounds: clientBounds(hwnd)}
	var buf [512]uint16
	if n := winsys.GetWindowText(hwnd, &buf[0], int32(len(buf))); n > 0 {
		w.Title = windows.UTF16ToString(buf[:n])
	}
	w.Exe = processImage(pid)
	return w
}

func className(hwnd windows.HWND) string {
	var buf [256]uint16
	n, err := windows.GetClassName(hwnd, &buf[0], int32(len(buf)))
	if err != nil || n <= 0 {
		return ""
	}
	return windows.UTF16ToString(buf[:n])
}

// processImage is the base name of pid's executable ("notepad.exe"), "" if it cannot be read.
func processImage(pid uint32) string {
	if pid == 0 {
		return ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	var buf [windows.MAX_LONG_PATH]uint16
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return filepath.Base(windows.UTF16ToString(buf[:n]))
}

func clientBounds(hwnd windows.HWND) image.Rectangle {
	var rc windows.Rect
	if err := winsys.GetClientRect(hwnd, &rc); err != nil {
		return image.Rectangle{}
	}
	pt := winsys.POINT{}
	if err := winsys.ClientToScreen(hwnd, &pt); err != nil {
		return image.Rectangle{}
	}
	return image.Rect(int(pt.X), int(pt.Y), int(pt.X+rc.Right), int(pt.Y+rc.Bottom))
}

func windowBounds(hwnd windows.HWND) image.Rectangle {
	var rc windows.Rect
	if err := winsys.GetWindowRect(hwnd, &rc); err != nil {
		return image.Rectangle{}
	}
	return image.Rect(int(rc.Left), int(rc.Top), int(rc.Right), int(rc.Bottom))
}

// readClipboard classifies the clipboard's Unicode text in place and reports the bool.
func (p *pump) readClipboard() {
	holds := false
	if winsys.IsClipboardFormatAvailable(winsys.CF_UNICODETEXT) && winsys.OpenClipboard(p.hwnd) == nil {
		if h, err := winsys.GetClipboardData(winsys.CF_UNICODETEXT); err == nil && h != 0 {
			if ptr, err := winsys.GlobalLock(h); err == nil && ptr != 0 {
				size, _ := winsys.GlobalSize(h)
				n := min(int(size/2), clipboardMaxChars)
				// ptr is memory the clipboard owns, not Go memory: reinterpret it without the
				// uintptr→Pointer conversion vet rightly distrusts for Go objects.
				text := *(**uint16)(unsafe.Pointer(&ptr))
				if p.clipBuf == nil {
					p.clipBuf = make([]byte, clipboardMaxChars)
				}
				holds = textHoldsPAN(p.clipBuf, unsafe.Slice(text, n))
				_ = winsys.GlobalUnlock(h)
			}
		}
		_ = winsys.CloseClipboard()
	}
	p.sink.Clipboard(holds)
}

// textHoldsPAN reports whether UTF-16 text (up to a NUL) holds a card number, by
// card.ContainsPAN over an ASCII narrowing of it in buf (non-ASCII becomes a character that
// ends a digit run). buf is wiped before returning, so no digit outlives the call.
func textHoldsPAN(buf []byte, text []uint16) bool {
	n := 0
	for _, c := range text {
		if c == 0 || n == len(buf) {
			break
		}
		if c < 0x80 {
			buf[n] = byte(c)
		} else {
			buf[n] = '?'
		}
		n++
	}
	found := card.ContainsPAN(buf[:n])
	clear(buf[:n])
	return found
}

// hookStats is a histogram of the time spent in the keyboard hook (microsecond buckets, powers
// of two), kept without allocation and logged when the source stops.
type hookStats struct {
	n       int
	max     time.Duration
	buckets [24]int // bucket i: [2^i, 2^(i+1)) µs, bucket 0 includes 0
}

func (s *hookStats) add(d time.Duration) {
	s.n++
	s.max = max(s.max, d)
	us := d.Microseconds()
	i := 0
	for us > 1 && i < len(s.buckets)-1 {
		us >>= 1
		i++
	}
	s.buckets[i]++
}

// quantile returns an upper bound of the q-quantile (the bucket's upper edge).
func (s *hookStats) quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	want := int(q*float64(s.n) + 0.5)
	seen := 0
	for i, c := range s.buckets {
		seen += c
		if seen >= want && c > 0 {
			return min(time.Duration(1<<(i+1))*time.Microsecond, s.max)
		}
	}
	return s.max
}

func (s *hookStats) log(log *slog.Logger) {
	if s.n == 0 {
		return
	}
	log.Info("keyboard hook time", "keys", s.n, "p50_le", s.quantile(0.5), "p99_le", s.quantile(0.99), "max", s.max)
}
