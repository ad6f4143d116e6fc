//go:build windows

package overlay

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// The mask is one pre-created layered popup window owned by a dedicated OS thread that runs its
// message loop. Every operation is a request handed to that thread with SendMessageTimeout, so
// the window is only ever touched by its owner and Show returns after the window has been
// positioned, raised, shown and painted black: when it returns to the keyboard hook, the next
// key cannot render unmasked. One window spans monitors on Windows, so Options.Windows is not
// needed beyond one.

const (
	msgRequest = winsys.WM_APP + 1 // the request slot holds work for the owner thread
	msgClose   = winsys.WM_APP + 2 // destroy the window and end the loop

	// requestTimeoutMs bounds how long a caller (the keyboard hook) waits for the overlay thread.
	// Windows 7 and later silently remove a low-level hook that overruns LowLevelHooksTimeout
	// (HKCU\Control Panel\Desktop, at most 1000 ms), which would end masking without a trace;
	// a hung overlay thread must cost the hook an error, never the hook itself.
	requestTimeoutMs = 150

	black = 0x000000
	white = 0xFFFFFF

	styleEx = winsys.WS_EX_LAYERED | winsys.WS_EX_TRANSPARENT | winsys.WS_EX_TOPMOST |
		winsys.WS_EX_TOOLWINDOW | winsys.WS_EX_NOACTIVATE

	// seeThroughAlpha keeps the see-through mask nearly invisible to the agent while remaining a
	// composited window that WDA_MONITOR turns black in captures (alpha 0 windows may be skipped).
	seeThroughAlpha = 1
)

// checkAttempts × checkRetry is how long a fresh mask may take to reach the composed screen.
const (
	checkAttempts = 6
	checkRetry    = 20 * time.Millisecond
)

var errHidden = errors.New("overlay: check: the mask is hidden")

var classSeq atomic.Uint32 // distinct class names for overlays in one process (tests)

type opKind int

const (
	opShow opKind = iota + 1
	opMove
	opHide
	opCheck
)

type request struct {
	op    opKind
	r     image.Rectangle
	label string
	err   error
}

type winOverlay struct {
	log        *slog.Logger
	seeThrough bool

	hwnd      windows.HWND
	class     *uint16
	instance  windows.Handle
	tid       uint32
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool

	reqMu sync.Mutex // one request in flight; req is read by the owner thread in wndProc
	req   *request

	// Owned by the overlay thread.
	rect    image.Rectangle
	label   string
	shown   bool
	fonts   map[int32]windows.Handle
	brush   windows.Handle
	evHooks []windows.Handle
}

var _ Overlay = (*winOverlay)(nil)

func newPlatform(opts Options, log *slog.Logger) (Overlay, error) {
	o := &winOverlay{
		log:        log,
		seeThrough: opts.SeeThrough,
		done:       make(chan struct{}),
		fonts:      map[int32]windows.Handle{},
	}
	started := make(chan error, 1)
	go o.loop(started)
	if err := <-started; err != nil {
		<-o.done
		return nil, err
	}
	return o, nil
}

// loop owns the window: it creates it, pumps its messages and destroys it.
func (o *winOverlay) loop(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(o.done)

	if err := o.create(); err != nil {
		started <- err
		return
	}
	started <- nil

	var m winsys.MSG
	for {
		r, err := winsys.GetMessage(&m, 0, 0, 0)
		if r == 0 {
			break
		}
		if err != nil {
			o.log.Error("message loop failed", "err", err)
			break
		}
		winsys.TranslateMessage(&m)
		winsys.DispatchMessage(&m)
	}
	o.teardown()
}

func (o *winOverlay) create() error {
	o.tid = winsys.GetCurrentThreadId()
	inst, err := winsys.GetModuleHandle(nil)
	if err != nil {
		return fmt.Errorf("overlay: module handle: %w", err)
	}
	o.instance = inst
	o.class, _ = windows.UTF16PtrFromString(fmt.Sprintf("pcipause.mask.%d", classSeq.Add(1)))
	o.brush = winsys.CreateSolidBrush(black)
	wc := winsys.WNDCLASSEX{
		WndProc:    windows.NewCallback(o.wndProc),
		Instance:   inst,
		Background: o.brush,
		ClassName:  o.class,
	}
	wc.Size = uint32(unsafe.Sizeof(wc))
	if _, err := winsys.RegisterClassEx(&wc); err != nil {
		winsys.DeleteObject(o.brush)
		return fmt.Errorf("overlay: register window class: %w", err)
	}
	title, _ := windows.UTF16PtrFromString("pcipause mask")
	hwnd, err := winsys.CreateWindowEx(styleEx, o.class, title, winsys.WS_POPUP,
		0, 0, 1, 1, 0, 0, inst, 0)
	if err != nil {
		_ = winsys.UnregisterClass(o.class, inst)
		winsys.DeleteObject(o.brush)
		return fmt.Errorf("overlay: create mask window: %w", err)
	}
	o.hwnd = hwnd
	alpha := byte(255)
	if o.seeThrough {
		if err := winsys.SetWindowDisplayAffinity(hwnd, winsys.WDA_MONITOR); err != nil {
			o.log.Warn("see-through mask not supported here; the mask stays solid black", "err", err)
			o.seeThrough = false
		} else {
			alpha = seeThroughAlpha
		}
	}
	if err := winsys.SetLayeredWindowAttributes(hwnd, 0, alpha, winsys.LWA_ALPHA); err != nil {
		_ = winsys.DestroyWindow(hwnd)
		_ = winsys.UnregisterClass(o.class, inst)
		winsys.DeleteObject(o.brush)
		return fmt.Errorf("overlay: make mask opaque: %w", err)
	}
	// Windows opened later or brought forward may rise above a topmost mask (Wine does not keep
	// topmost at all): re-raise on every show and foreground change. Out-of-context hooks are
	// delivered to this thread's message loop.
	cb := windows.NewCallback(o.winEvent)
	for _, ev := range []uint32{winsys.EVENT_SYSTEM_FOREGROUND, winsys.EVENT_OBJECT_SHOW} {
		h, err := winsys.SetWinEventHook(ev, ev, 0, cb, 0, 0, winsys.WINEVENT_OUTOFCONTEXT|winsys.WINEVENT_SKIPOWNPROCESS)
		if err != nil {
			o.log.Warn("cannot watch for windows rising above the mask", "event", ev, "err", err)
			continue
		}
		o.evHooks = append(o.evHooks, h)
	}
	o.log.Debug("mask window created", "see_through", o.seeThrough)
	return nil
}

func (o *winOverlay) teardown() {
	for _, h := range o.evHooks {
		winsys.UnhookWinEvent(h)
	}
	if winsys.IsWindow(o.hwnd) {
		_ = winsys.DestroyWindow(o.hwnd)
	}
	_ = winsys.UnregisterClass(o.class, o.instance)
	for _, f := range o.fonts {
		winsys.DeleteObject(f)
	}
	winsys.DeleteObject(o.brush)
}

// do hands req to the overlay thread and waits for it to be carried out.
func (o *winOverlay) do(req *request) error {
	if o.closed.Load() {
		return ErrClosed
	}
	o.reqMu.Lock()
	defer o.reqMu.Unlock()
	o.req = req
	defer func() { o.req = nil }()
	var res uintptr
	if err := winsys.SendMessageTimeout(o.hwnd, msgRequest, 0, 0,
		winsys.SMTO_NORMAL|winsys.SMTO_ABORTIFHUNG, requestTimeoutMs, &res); err != nil {
		if o.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("overlay: mask window did not answer: %w", err)
	}
	if res != 1 {
		return ErrClosed
	}
	return req.err
}

func (o *winOverlay) Show(r image.Rectangle, label string) error {
	if r.Empty() {
		return fmt.Errorf("overlay: show: empty rectangle %v", r)
	}
	return o.do(&request{op: opShow, r: r, label: label})
}

func (o *winOverlay) Move(r image.Rectangle) error {
	if r.Empty() {
		return fmt.Errorf("overlay: move: empty rectangle %v", r)
	}
	return o.do(&request{op: opMove, r: r})
}

func (o *winOverlay) Hide() error { return o.do(&request{op: opHide}) }

// Check retries the readback for a few frames: the screen a BitBlt reads is the composed one
// (DWM on Windows, the X server under Wine), which shows a new paint a frame or so later.
func (o *winOverlay) Check() error {
	var err error
	for attempt := range checkAttempts {
		if attempt > 0 {
			t := time.NewTimer(checkRetry)
			<-t.C
		}
		err = o.do(&request{op: opCheck})
		if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrNotShown) || errors.Is(err, errHidden) {
			return err
		}
	}
	return err
}

func (o *winOverlay) Close() error {
	o.closeOnce.Do(func() {
		o.closed.Store(true)
		if err := winsys.PostMessage(o.hwnd, msgClose, 0, 0); err != nil {
			// The window is gone already; end the loop through the thread.
			_ = winsys.PostThreadMessage(o.tid, winsys.WM_QUIT, 0, 0)
		}
		<-o.done
	})
	return nil
}

func (o *winOverlay) wndProc(hwnd windows.HWND, msg uint32, wParam, lParam uintptr) uintptr {
	switch msg {
	case msgRequest:
		if req := o.req; req != nil {
			req.err = o.handle(req)
			return 1
		}
		return 0
	case msgClose:
		_ = winsys.DestroyWindow(hwnd)
		return 0
	case winsys.WM_DESTROY:
		winsys.PostQuitMessage(0)
		return 0
	case winsys.WM_NCHITTEST:
		return winsys.HTTRANSPARENT
	case winsys.WM_ERASEBKGND:
		return 1 // WM_PAINT fills everything
	case winsys.WM_PAINT:
		var ps winsys.PAINTSTRUCT
		hdc := winsys.BeginPaint(hwnd, &ps)
		o.paint(hdc, o.rect.Dx(), o.rect.Dy())
		winsys.EndPaint(hwnd, &ps)
		return 0
	}
	return winsys.DefWindowProc(hwnd, msg, wParam, lParam)
}

// winEvent re-raises a shown mask when any other window is shown or comes to the foreground.
func (o *winOverlay) winEvent(hook windows.Handle, event uint32, hwnd windows.HWND, idObject, idChild int32, thread, ms uint32) uintptr {
	if o.shown && hwnd != o.hwnd && idObject == winsys.OBJID_WINDOW {
		_ = winsys.SetWindowPos(o.hwnd, winsys.HWND_TOPMOST, 0, 0, 0, 0,
			winsys.SWP_NOMOVE|winsys.SWP_NOSIZE|winsys.SWP_NOACTIVATE|winsys.SWP_NOOWNERZORDER)
	}
	return 0
}

func (o *winOverlay) handle(req *request) error {
	switch req.op {
	case opShow:
		o.rect, o.label = req.r, req.label
		if err := o.place(winsys.SWP_SHOWWINDOW); err != nil {
			return fmt.Errorf("overlay: show: %w", err)
		}
		o.shown = true
		return o.paintNow()
	case opMove:
		o.rect = req.r
		if !o.shown {
			return nil
		}
		if err := o.place(0); err != nil {
			return fmt.Errorf("overlay: move: %w", err)
		}
		return o.paintNow()
	case opHide:
		if o.shown {
			winsys.ShowWindow(o.hwnd, winsys.SW_HIDE)
			o.shown = false
		}
		return nil
	case opCheck:
		return o.check()
	}
	return fmt.Errorf("overlay: unknown request %d", req.op)
}

func (o *winOverlay) place(extra uint32) error {
	r := o.rect
	return winsys.SetWindowPos(o.hwnd, winsys.HWND_TOPMOST, int32(r.Min.X), int32(r.Min.Y),
		int32(r.Dx()), int32(r.Dy()), winsys.SWP_NOACTIVATE|winsys.SWP_NOOWNERZORDER|extra)
}

// paintNow draws the mask into the window before the request returns, so the caller never
// leaves a shown-but-unpainted window behind.
func (o *winOverlay) paintNow() error {
	hdc := winsys.GetDC(o.hwnd)
	if hdc == 0 {
		return errors.New("overlay: no device context for the mask window")
	}
	o.paint(hdc, o.rect.Dx(), o.rect.Dy())
	winsys.ReleaseDC(o.hwnd, hdc)
	return nil
}

// paint fills w×h black and writes the label centred in white, with a non-antialiased font so
// the readback check can predict every pixel.
func (o *winOverlay) paint(hdc windows.Handle, w, h int) {
	rc := windows.Rect{Right: int32(w), Bottom: int32(h)}
	winsys.FillRect(hdc, &rc, o.brush)
	if o.label == "" || w < 8 || h < 8 {
		return
	}
	height := min(max(int32(h)*6/10, 10), 32)
	font := o.fonts[height]
	if font == 0 {
		face, _ := windows.UTF16PtrFromString("Segoe UI")
		font = winsys.CreateFont(-height, 0, 0, 0, winsys.FW_BOLD, 0, 0, 0, winsys.DEFAULT_CHARSET,
			0, 0, winsys.NONANTIALIASED_QUALITY, 0, face)
		o.fonts[height] = font
	}
	prev := winsys.SelectObject(hdc, font)
	winsys.SetBkMode(hdc, winsys.TRANSPARENT_BK)
	winsys.SetTextColor(hdc, white)
	text, _ := windows.UTF16FromString(o.label)
	winsys.DrawText(hdc, &text[0], int32(len(text)-1), &rc,
		winsys.DT_CENTER|winsys.DT_VCENTER|winsys.DT_SINGLELINE|winsys.DT_NOPREFIX|winsys.DT_END_ELLIPSIS)
	winsys.SelectObject(hdc, prev)
}

// check reads the masked region back from the screen and compares it pixel for pixel with the
// mask as it should look (the same paint into a memory bitmap). In see-through mode the agent's
// view is not black by design, so only the window's presence is checked.
func (o *winOverlay) check() error {
	if !o.shown {
		if o.rect.Empty() {
			return ErrNotShown
		}
		return errHidden
	}
	if !windows.IsWindowVisible(o.hwnd) {
		return errors.New("overlay: check: the mask window is not visible")
	}
	if o.seeThrough {
		return nil
	}
	w, h := o.rect.Dx(), o.rect.Dy()
	got, err := o.grab(func(mem windows.Handle) error {
		screen := winsys.GetDC(0)
		if screen == 0 {
			return errors.New("no screen device context")
		}
		defer winsys.ReleaseDC(0, screen)
		return winsys.BitBlt(mem, 0, 0, int32(w), int32(h), screen,
			int32(o.rect.Min.X), int32(o.rect.Min.Y), winsys.SRCCOPY|winsys.CAPTUREBLT)
	})
	if err != nil {
		return fmt.Errorf("overlay: check: read the screen back: %w", err)
	}
	want, err := o.grab(func(mem windows.Handle) error {
		o.paint(mem, w, h)
		return nil
	})
	if err != nil {
		return fmt.Errorf("overlay: check: render the expected mask: %w", err)
	}
	bad, gotLit, wantLit := 0, 0, 0
	for i := 0; i+3 < len(got); i += 4 {
		if got[i] != want[i] || got[i+1] != want[i+1] || got[i+2] != want[i+2] {
			bad++
		}
		if got[i] != 0 {
			gotLit++
		}
		if want[i] != 0 {
			wantLit++
		}
	}
	if bad > 0 {
		return fmt.Errorf("overlay: check: %d of %d pixels in %v differ from the mask (%d label pixels on screen, %d expected)", bad, w*h, o.rect, gotLit, wantLit)
	}
	return nil
}

// grab runs draw into a w×h memory bitmap compatible with the screen and returns its pixels as
// 32-bit BGRX rows, top-down.
func (o *winOverlay) grab(draw func(mem windows.Handle) error) ([]byte, error) {
	w, h := o.rect.Dx(), o.rect.Dy()
	screen := winsys.GetDC(0)
	if screen == 0 {
		return nil, errors.New("no screen device context")
	}
	defer winsys.ReleaseDC(0, screen)
	mem, err := winsys.CreateCompatibleDC(screen)
	if err != nil {
		return nil, err
	}
	defer winsys.DeleteDC(mem)
	bmp, err := winsys.CreateCompatibleBitmap(screen, int32(w), int32(h))
	if err != nil {
		return nil, err
	}
	defer winsys.DeleteObject(bmp)
	prev := winsys.SelectObject(mem, bmp)
	err = draw(mem)
	winsys.SelectObject(mem, prev)
	if err != nil {
		return nil, err
	}
	bi := winsys.BITMAPINFOHEADER{Width: int32(w), Height: -int32(h), Planes: 1, BitCount: 32, Compression: winsys.BI_RGB}
	bi.Size = uint32(unsafe.Sizeof(bi))
	// GetDIBits may write a colour table after the header for some formats; leave room for it.
	info := make([]byte, unsafe.Sizeof(bi)+256*4)
	*(*winsys.BITMAPINFOHEADER)(unsafe.Pointer(&info[0])) = bi
	pix := make([]byte, w*h*4)
	if n := winsys.GetDIBits(mem, bmp, 0, uint32(h), &pix[0], (*winsys.BITMAPINFOHEADER)(unsafe.Pointer(&info[0])), winsys.DIB_RGB_COLORS); n != int32(h) {
		return nil, fmt.Errorf("GetDIBits copied %d of %d rows", n, h)
	}
	return pix, nil
}
