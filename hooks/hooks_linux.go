//go:build linux

package hooks

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"pcipause/hooks/atspi"
	"pcipause/hooks/card"
	"pcipause/hooks/x11"
)

func newSource(opts Options, log *slog.Logger) (Source, error) {
	return &x11Source{opts: opts, log: log}, nil
}

// x11Source reads XInput2 raw key events (every client's keys, whoever has the focus),
// follows _NET_ACTIVE_WINDOW and the active window's geometry, and classifies the CLIPBOARD
// and PRIMARY selections when their owner changes.
type x11Source struct {
	opts Options
	log  *slog.Logger
}

var _ Source = (*x11Source)(nil)

// x11State is one Run's connection and bookkeeping; only Run's goroutine touches it.
type x11State struct {
	c     *x11.Conn
	atoms x11.Atoms
	km    *x11.Keymap
	sink  Sink
	log   *slog.Logger

	pressed      [256]bool
	shift, ctrl  int
	alt          int
	numLock      bool
	active       xproto.Window
	ewmh         bool                            // else focus is polled on each key press
	windows      map[xproto.Window]Window        // client windows reported by Focus
	frames       map[xproto.Window]xproto.Window // frame or client -> client
	lastField    atspi.Field                     // last AT-SPI focus, possibly ahead of the X focus change
	curField     Field
	clipPAN      bool
	primaryPAN   bool
	lastClipSent bool
	clipSent     bool
}

// Run implements Source. X11 has no thread affinity, so unlike the Windows hook this loop
// needs no locked OS thread.
func (s *x11Source) Run(ctx context.Context, started chan<- error, sink Sink) error {
	st, err := s.setup(ctx, sink)
	if err != nil {
		started <- err
		return err
	}
	c := st.c
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	readerDone := make(chan struct{})
	go func() { // owned by Run: ends when the connection closes, which Run's defers ensure
		defer close(readerDone)
		for {
			// The events the hooks use come through c.Events(); what is left here is
			// errors of unchecked requests (a window gone between two calls) and events
			// nobody asked for. Both are harmless but must be drained.
			ev, xerr := c.X.WaitForEvent()
			if ev == nil && xerr == nil {
				return
			}
			if xerr != nil {
				st.log.Debug("x11 request error", "err", xerr.Error())
			}
		}
	}()
	defer func() { c.Close(); <-readerDone }()

	fields := make(chan atspi.Field, 16)
	if !s.opts.NoAccessibility {
		actx, acancel := context.WithCancel(ctx)
		adone := make(chan struct{})
		go func() { // owned by Run: cancelled and waited for below; connects in the background
			defer close(adone)
			a, err := atspi.Connect(actx, s.log)
			if err != nil {
				s.log.Info("accessibility off: whole windows are masked", "reason", err)
				return
			}
			if err := a.Run(actx, fields); err != nil {
				s.log.Warn("accessibility events stopped", "err", err)
			}
		}()
		defer func() { acancel(); <-adone }()
	}

	if st.ewmh {
		if active, err := c.ActiveWindow(st.atoms); err == nil && active != 0 {
			st.focus(active)
		}
	} else {
		st.pollFocus()
	}
	started <- nil
	s.log.Info("x11 hooks running", "display", s.opts.Display, "clipboard", !s.opts.NoClipboard)

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-readerDone:
			if ctx.Err() != nil {
				return nil
			}
			return errors.New("hooks: x11 connection closed")
		case ev := <-c.Events():
			switch ev.Kind {
			case x11.KindRaw:
				st.raw(ev.Raw)
			case x11.KindSelection:
				st.selectionOwner(ev.Selection)
			case x11.KindX:
				st.event(ev.X)
			}
		case f := <-fields:
			st.field(f)
		}
	}
}

func (s *x11Source) setup(ctx context.Context, sink Sink) (*x11State, error) {
	c, err := x11.Dial(ctx, s.opts.Display, s.opts.XAuthority)
	if err != nil {
		return nil, err
	}
	st := &x11State{c: c, sink: sink, log: s.log, windows: map[xproto.Window]Window{}, frames: map[xproto.Window]xproto.Window{}}
	fail := func(err error) (*x11State, error) { c.Close(); return nil, err }
	if err := c.SelectRaw(); err != nil {
		return fail(err)
	}
	if st.atoms, err = c.InternAtoms(); err != nil {
		return fail(err)
	}
	if st.km, err = c.LoadKeymap(); err != nil {
		return fail(err)
	}
	if err := c.Listen(c.Root, true); err != nil {
		return fail(err)
	}
	if st.ewmh, err = c.HasEWMH(st.atoms); err != nil {
		return fail(err)
	}
	if !st.ewmh {
		s.log.Warn("no EWMH window manager: focus is read on each key press")
	}
	if mask, err := c.Modifiers(); err == nil {
		st.numLock = st.km.NumLockMask != 0 && mask&st.km.NumLockMask != 0
	}
	if !s.opts.NoClipboard {
		if _, err := c.WatchSelections(st.atoms.Clipboard, st.atoms.Primary); err != nil {
			return fail(err)
		}
		// Classify what the selections hold right now, not only after the next change.
		c.RequestSelection(st.atoms.Clipboard, st.atoms.ClipboardProp, st.atoms)
		c.RequestSelection(st.atoms.Primary, st.atoms.PrimaryProp, st.atoms)
	}
	return st, nil
}

// raw handles one XInput2 raw event: the hot path.
func (st *x11State) raw(ev x11.RawEvent) {
	switch ev.Type {
	case x11.XIRawButtonPress:
		switch ev.Detail {
		case 2:
			st.sink.Key(Key{Code: KeyPrimaryPaste, At: ev.At})
		case 1, 3: // a click may move the caret or pick another field: the run is over
			st.sink.Key(Key{Code: KeyOther, At: ev.At})
		}
		return
	case x11.XIRawKeyPress, x11.XIRawKeyRelease:
	default:
		return
	}
	if ev.Detail > 255 {
		return
	}
	code := byte(ev.Detail)
	press := ev.Type == x11.XIRawKeyPress
	base := st.km.Sym(code, 0)
	if mod, ok := st.modifier(base, code, press); ok {
		if press {
			st.sink.Key(Key{Code: mod, At: ev.At})
		}
		return
	}
	if !press {
		return
	}
	if !st.ewmh {
		st.pollFocus()
	}
	sym := st.km.Lookup(code, st.shift > 0, st.numLock)
	kc, digit := classify(sym, st.shift > 0, st.ctrl > 0, st.alt > 0)
	st.sink.Key(Key{Code: kc, Digit: digit, At: ev.At})
}

// modifier tracks Shift, Control, Alt and NumLock from raw presses and releases, since raw
// events carry no modifier state.
func (st *x11State) modifier(sym xproto.Keysym, code byte, press bool) (KeyCode, bool) {
	var counter *int
	switch sym {
	case x11.KeysymShiftL, x11.KeysymShiftR:
		counter = &st.shift
	case x11.KeysymControlL, x11.KeysymControlR:
		counter = &st.ctrl
	case 0xffe9, 0xffea, 0xffe7, 0xffe8: // Alt_L, Alt_R, Meta_L, Meta_R
		counter = &st.alt
	case x11.KeysymNumLock:
		if press && !st.pressed[code] {
			st.numLock = !st.numLock
		}
		st.pressed[code] = press
		return KeyModifier, true
	default:
		if sym >= 0xffe1 && sym <= 0xffee || sym >= 0xfe01 && sym <= 0xfe0f || sym == 0xff7e {
			return KeyModifier, true // Caps/Shift Lock, Super, Hyper, ISO_Level3, Mode_switch
		}
		return 0, false
	}
	switch {
	case press && !st.pressed[code]:
		*counter++
	case !press && st.pressed[code] && *counter > 0:
		*counter--
	}
	st.pressed[code] = press
	return KeyModifier, true
}

// classify maps a keysym and the modifiers held to a KeyCode.
func classify(sym xproto.Keysym, shift, ctrl, alt bool) (KeyCode, byte) {
	if ctrl {
		switch sym {
		case 'v', 'V':
			return KeyPaste, 0
		case 'a', 'A':
			return KeySelectAll, 0
		case 'u', 'U':
			return KeyClearLine, 0
		}
		return KeyOther, 0
	}
	if alt {
		return KeyOther, 0
	}
	switch {
	case sym >= '0' && sym <= '9':
		return KeyDigit, byte(sym)
	case sym >= 0xffb0 && sym <= 0xffb9: // KP_0..KP_9
		return KeyDigit, byte(sym-0xffb0) + '0'
	}
	switch sym {
	case ' ', '-', 0xffad, 0xff80: // space, minus, KP_Subtract, KP_Space
		return KeySeparator, 0
	case 0xff08:
		return KeyBackspace, 0
	case 0xffff, 0xff9f: // Delete, KP_Delete
		return KeyDelete, 0
	case 0xff0d, 0xff8d: // Return, KP_Enter
		return KeyEnter, 0
	case 0xff09, 0xfe20: // Tab, ISO_Left_Tab
		return KeyTab, 0
	case 0xff1b:
		return KeyEscape, 0
	case 0xff63: // Insert
		if shift {
			return KeyPaste, 0
		}
	}
	return KeyOther, 0
}

// event handles core X events: focus, geometry, keymap and selection answers.
func (st *x11State) event(ev xgb.Event) {
	switch e := ev.(type) {
	case xproto.PropertyNotifyEvent:
		if e.Window == st.active && (e.Atom == st.atoms.NetWMName || e.Atom == xproto.AtomWmName) {
			st.retitle()
			return
		}
		if e.Window == st.c.Root && e.Atom == st.atoms.NetActiveWindow {
			w, err := st.c.ActiveWindow(st.atoms)
			if err != nil {
				st.log.Warn("read active window", "err", err)
				return
			}
			if w != 0 && st.changed(w) { // openbox briefly reports 0 on every switch
				st.focus(w)
			}
		}
	case xproto.ConfigureNotifyEvent:
		st.geometry(e.Window)
	case xproto.DestroyNotifyEvent:
		st.gone(e.Window)
	// UnmapNotify is not reported: a minimised window comes back with its card digits, so
	// its mask must stay (over where it was) rather than be released.
	case xproto.MappingNotifyEvent:
		if km, err := st.c.LoadKeymap(); err == nil {
			st.km = km
		} else {
			st.log.Warn("reload keyboard mapping", "err", err)
		}
	case xproto.SelectionNotifyEvent:
		st.selectionAnswer(e)
	}
}

// pollFocus follows the core input focus where no window manager publishes
// _NET_ACTIVE_WINDOW. It costs a round trip or two per key, only in that setup.
func (st *x11State) pollFocus() {
	w, err := st.c.InputFocus()
	if err != nil {
		st.log.Debug("input focus", "err", err)
		return
	}
	if w != 0 && st.changed(w) {
		st.focus(w)
	}
}

// changed reports whether w is news as the active window: another window, or the same id
// whose window could not be read last time. The X server gives a closed client's ids to the
// next client, so a new window can carry the id of one that just died.
func (st *x11State) changed(w xproto.Window) bool {
	if w != st.active {
		return true
	}
	win, ok := st.windows[w]
	return !ok || win.Bounds.Empty()
}

func (st *x11State) focus(w xproto.Window) {
	st.active = w
	win := Window{ID: uint64(w)}
	info, err := st.c.Info(w, st.atoms)
	if err != nil {
		st.log.Debug("window info", "window", uint32(w), "err", err)
	}
	win.PID, win.Class, win.Title = info.PID, info.Class, info.Title
	win.Exe = exeName(info.PID)
	if b, err := st.c.Bounds(w); err == nil {
		win.Bounds = b
	}
	if _, seen := st.windows[w]; !seen {
		if frame, err := st.c.Frame(w); err == nil {
			st.frames[frame] = w
			st.frames[w] = w
			_ = st.c.Listen(w, true) // PropertyChange for the title
			if frame != w {
				_ = st.c.Listen(frame, false)
			}
		}
	}
	st.windows[w] = win
	st.curField = Field{}
	if lf := st.lastField; lf.PID != 0 && lf.PID == win.PID && time.Since(lf.At) < fieldFresh {
		st.curField = fieldIn(lf, win)
	}
	st.sink.Focus(Focus{Window: win, Field: st.curField})
}

// retitle reports the active window again when its title changed (a terminal application
// entering its payment screen): field rules may match by title. The detector keeps the run
// going for a refocus of the same window and field.
func (st *x11State) retitle() {
	win, ok := st.windows[st.active]
	if !ok {
		return
	}
	info, err := st.c.Info(st.active, st.atoms)
	if err != nil || info.Title == win.Title {
		return
	}
	win.Title = info.Title
	st.windows[st.active] = win
	st.sink.Focus(Focus{Window: win, Field: st.curField})
}

// fieldFresh is how long an AT-SPI focus event that came before the X focus change is
// still taken to describe the newly active window.
const fieldFresh = 2 * time.Second

// field handles an AT-SPI focus change: a new field inside the active window.
func (st *x11State) field(f atspi.Field) {
	st.lastField = f
	win, ok := st.windows[st.active]
	if !ok || win.PID == 0 || win.PID != f.PID {
		return // another process's object, or ahead of the X focus change
	}
	fld := fieldIn(f, win)
	if fld == st.curField {
		return
	}
	st.curField = fld
	st.sink.Focus(Focus{Window: win, Field: fld})
}

// fieldIn converts an AT-SPI field. Its bounds are kept only for text fields lying inside
// the window: a mask on a stale or wrong rectangle would leave the real field bare, so
// anything doubtful falls back to the whole window.
func fieldIn(f atspi.Field, win Window) Field {
	fld := Field{Role: f.Role, Label: f.Label, Bounds: f.Bounds}
	textual := strings.Contains(f.Role, "text") || strings.Contains(f.Role, "entry") || f.Role == "spin button"
	slack := win.Bounds.Inset(-2)
	if !textual || win.Bounds.Empty() || !f.Bounds.In(slack) {
		fld.Bounds = image.Rectangle{}
	}
	return fld
}

func (st *x11State) geometry(w xproto.Window) {
	client, ok := st.frames[w]
	if !ok {
		return
	}
	win := st.windows[client]
	b, err := st.c.Bounds(client)
	if err != nil {
		return
	}
	if b == win.Bounds {
		return
	}
	win.Bounds = b
	st.windows[client] = win
	st.sink.Moved(win)
}

// gone handles a DestroyNotify. Only the client window's death is reported: a frame can die
// while its client lives on (a window manager restarting).
func (st *x11State) gone(w xproto.Window) {
	client, ok := st.frames[w]
	delete(st.frames, w)
	if !ok || w != client {
		return
	}
	win := st.windows[client]
	delete(st.windows, client)
	if client == st.active {
		st.active = 0 // its id may come back on another window
	}
	for f, c := range st.frames {
		if c == client {
			delete(st.frames, f)
		}
	}
	win.Bounds = image.Rectangle{}
	st.sink.Moved(win)
}

func (st *x11State) selectionOwner(ev x11.SelectionEvent) {
	prop := st.atoms.ClipboardProp
	if ev.Selection == st.atoms.Primary {
		prop = st.atoms.PrimaryProp
	}
	if ev.Owner == 0 {
		st.setSelection(ev.Selection, false)
		return
	}
	// Until the owner answers, a paste might insert a card number: count it as one, so a
	// Ctrl+C / Ctrl+V faster than the round trips (or an owner that never answers) masks.
	st.setSelection(ev.Selection, true)
	st.c.RequestSelection(ev.Selection, prop, st.atoms)
}

func (st *x11State) selectionAnswer(e xproto.SelectionNotifyEvent) {
	if e.Property == 0 { // the owner refused to convert (not text)
		st.setSelection(e.Selection, false)
		return
	}
	holds := false
	if err := st.c.TakeSelection(e.Property, func(b []byte) { holds = card.ContainsPAN(b) }); err != nil {
		st.log.Warn("read selection", "err", err)
		return
	}
	st.setSelection(e.Selection, holds)
}

func (st *x11State) setSelection(sel xproto.Atom, holds bool) {
	switch sel {
	case st.atoms.Clipboard:
		st.clipPAN = holds
	case st.atoms.Primary:
		st.primaryPAN = holds
	default:
		return
	}
	// One bool for both: a paste key inserts CLIPBOARD in most programs and PRIMARY in
	// terminals (Shift+Insert) and on a middle click; masking on either is the safe side.
	v := st.clipPAN || st.primaryPAN
	if st.clipSent && v == st.lastClipSent {
		return
	}
	st.clipSent, st.lastClipSent = true, v
	st.sink.Clipboard(v)
}

// exeName is the executable's base name from /proc, or the process name when the link is
// not readable (another user's process), or "".
func exeName(pid int) string {
	if pid <= 0 {
		return ""
	}
	p := "/proc/" + strconv.Itoa(pid)
	if target, err := os.Readlink(p + "/exe"); err == nil {
		return filepath.Base(strings.TrimSuffix(target, " (deleted)"))
	}
	if b, err := os.ReadFile(p + "/comm"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}
