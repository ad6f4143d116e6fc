package x11

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// XInput2 raw event types (XI2.h).
const (
	XIRawKeyPress      = 13
	XIRawKeyRelease    = 14
	XIRawButtonPress   = 15
	XIRawButtonRelease = 16

	xiQueryVersion     = 47
	xiSelectEvents     = 46
	xiAllMasterDevices = 1
)

// RawEvent is an XInput2 raw key or button event: from any client, whichever window has focus.
type RawEvent struct {
	Type   uint16    // XIRawKeyPress, ...
	Detail uint32    // keycode or button number
	At     time.Time // when this process read it
}

// EventKind says which field of an Event is set.
type EventKind uint8

const (
	KindRaw       EventKind = iota + 1 // Raw: an XInput2 raw key or button event
	KindSelection                      // Selection: an XFixes selection-owner change
	KindX                              // X: a core event (property, configure, destroy, selection, mapping)
)

// Event is one event from the server, delivered in the order the server sent it, so a focus
// change is always handled before the keys typed after it.
type Event struct {
	Kind      EventKind
	Raw       RawEvent
	Selection SelectionEvent
	X         xgb.Event
}

// Core events taken out of xgb's stream into Events (their codes, X protocol).
const (
	codeDestroyNotify   = 17
	codeConfigureNotify = 22
	codePropertyNotify  = 28
	codeSelectionNotify = 31
	codeMappingNotify   = 34
)

// SelectionEvent is an XFixes selection-owner change.
type SelectionEvent struct {
	Selection xproto.Atom
	Owner     xproto.Window
}

// Conn is one X connection set up for the hooks: raw key and button events from the root
// window, XFixes selection notify, and the xgb connection for everything else.
type Conn struct {
	X      *xgb.Conn
	Root   xproto.Window
	Screen image.Rectangle

	xiOpcode     atomic.Uint32
	xfixesEvent  atomic.Uint32 // first event code of XFixes + 1; 0 = not claimed
	events       chan Event
	done         chan struct{}
	closeOnce    sync.Once
	rawSeen      atomic.Uint64
	selectionWin xproto.Window
}

// Events delivers raw input, selection-owner changes and the core events the hooks use
// (PropertyNotify, ConfigureNotify, DestroyNotify, SelectionNotify, MappingNotify) in server
// order. It must be drained: while it is full, xgb's reader waits, and so does every reply.
// Other events and request errors still come from X.WaitForEvent.
func (c *Conn) Events() <-chan Event { return c.events }

// Dial connects to displayName ("" = $DISPLAY) with the cookie from authFile ("" =
// $XAUTHORITY, ~/.Xauthority). Raw events flow only after SelectRaw.
func Dial(ctx context.Context, displayName, authFile string) (*Conn, error) {
	if displayName == "" {
		displayName = os.Getenv("DISPLAY")
	}
	d, err := parseDisplay(displayName)
	if err != nil {
		return nil, err
	}
	cookie, err := readCookie(authPath(authFile), d)
	if err != nil && !errors.Is(err, errNoCookie) {
		return nil, err
	}
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, d.network, d.addr)
	if err != nil {
		return nil, fmt.Errorf("x11 dial %s: %w", displayName, err)
	}
	c := &Conn{
		// Sized so that the reader never blocks on it in practice: while it is full, xgb's
		// reader waits, and so does any reply the source's loop is waiting for.
		events: make(chan Event, 4096),
		done:   make(chan struct{}),
	}
	fc := newFramedConn(nc, cookie, c.divert, c.claim)
	x, err := xgb.NewConnNet(fc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("x11 connect %s: %w", displayName, err)
	}
	c.X = x
	screen := xproto.Setup(x).DefaultScreen(x)
	c.Root = screen.Root
	c.Screen = image.Rect(0, 0, int(screen.WidthInPixels), int(screen.HeightInPixels))
	return c, nil
}

// Close closes the connection; the event channels stop delivering.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.X.Close()
	})
}

// RawCount is how many raw events arrived (tests and diagnostics).
func (c *Conn) RawCount() uint64 { return c.rawSeen.Load() }

// claim runs on xgb's reader goroutine: take the events the hooks use out of xgb's stream
// (XFixes ones also because xgb could only decode them after xfixes.Init writes its
// package-global event table).
func (c *Conn) claim(code byte) bool {
	switch code {
	case codeDestroyNotify, codeConfigureNotify, codePropertyNotify, codeSelectionNotify, codeMappingNotify:
		return true
	}
	e := c.xfixesEvent.Load()
	return e != 0 && uint32(code) == e-1
}

// divert runs on xgb's reader goroutine with a packet it must not keep.
func (c *Conn) divert(pkt []byte) {
	var ev Event
	switch code := pkt[0] & 0x7f; code {
	case packetGeneric:
		if len(pkt) < 20 || uint32(pkt[1]) != c.xiOpcode.Load() {
			return
		}
		ev = Event{Kind: KindRaw, Raw: RawEvent{
			Type:   binary.LittleEndian.Uint16(pkt[8:]),
			Detail: binary.LittleEndian.Uint32(pkt[16:]),
			At:     time.Now(),
		}}
		c.rawSeen.Add(1)
	case codeDestroyNotify:
		ev = Event{Kind: KindX, X: xproto.DestroyNotifyEventNew(pkt)}
	case codeConfigureNotify:
		ev = Event{Kind: KindX, X: xproto.ConfigureNotifyEventNew(pkt)}
	case codePropertyNotify:
		ev = Event{Kind: KindX, X: xproto.PropertyNotifyEventNew(pkt)}
	case codeSelectionNotify:
		ev = Event{Kind: KindX, X: xproto.SelectionNotifyEventNew(pkt)}
	case codeMappingNotify:
		ev = Event{Kind: KindX, X: xproto.MappingNotifyEventNew(pkt)}
	default: // the XFixes selection notify
		ev = Event{Kind: KindSelection, Selection: SelectionEvent{
			Owner:     xproto.Window(binary.LittleEndian.Uint32(pkt[8:])),
			Selection: xproto.Atom(binary.LittleEndian.Uint32(pkt[12:])),
		}}
	}
	select {
	case c.events <- ev:
	case <-c.done:
	}
}

// Extension makes the extension's requests usable on c.X: it records the major opcode as
// the generated Init functions do, without writing their package-global event tables, which
// other connections in the process read concurrently.
func (c *Conn) Extension(name string) error {
	_, err := c.extension(name)
	return err
}

func (c *Conn) extension(name string) (*xproto.QueryExtensionReply, error) {
	r, err := xproto.QueryExtension(c.X, uint16(len(name)), name).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11 query extension %s: %w", name, err)
	}
	if !r.Present {
		return nil, fmt.Errorf("x11: the server has no %s extension", name)
	}
	c.X.ExtLock.Lock()
	c.X.Extensions[name] = r.MajorOpcode
	c.X.ExtLock.Unlock()
	return r, nil
}

// SelectRaw enables XInput 2.2 and selects raw key presses/releases and button presses on
// the root window for all master devices: these arrive whichever client has the focus.
// The caller must then drain Raw, or the connection stalls.
func (c *Conn) SelectRaw() error {
	r, err := c.extension("XInputExtension")
	if err != nil {
		return err
	}
	op := r.MajorOpcode
	c.xiOpcode.Store(uint32(op))

	q := make([]byte, 8)
	q[0], q[1] = op, xiQueryVersion
	binary.LittleEndian.PutUint16(q[2:], 2)
	binary.LittleEndian.PutUint16(q[4:], 2) // major
	binary.LittleEndian.PutUint16(q[6:], 2) // minor
	ck := c.X.NewCookie(true, true)
	c.X.NewRequest(q, ck)
	rep, err := ck.Reply()
	if err != nil {
		return fmt.Errorf("x11 XIQueryVersion: %w", err)
	}
	if len(rep) < 12 || binary.LittleEndian.Uint16(rep[8:]) < 2 {
		return errors.New("x11: the server lacks XInput 2")
	}

	s := make([]byte, 20)
	s[0], s[1] = op, xiSelectEvents
	binary.LittleEndian.PutUint16(s[2:], 5)
	binary.LittleEndian.PutUint32(s[4:], uint32(c.Root))
	binary.LittleEndian.PutUint16(s[8:], 1)                   // one mask
	binary.LittleEndian.PutUint16(s[12:], xiAllMasterDevices) // deviceid
	binary.LittleEndian.PutUint16(s[14:], 1)                  // mask length in 4-byte units
	binary.LittleEndian.PutUint32(s[16:], 1<<XIRawKeyPress|1<<XIRawKeyRelease|1<<XIRawButtonPress)
	ck = c.X.NewCookie(true, false)
	c.X.NewRequest(s, ck)
	if err := ck.Check(); err != nil {
		return fmt.Errorf("x11 XISelectEvents: %w", err)
	}
	return nil
}

// WatchSelections asks XFixes for owner changes of the given selections and returns the
// window to use as requestor when converting them.
func (c *Conn) WatchSelections(sel ...xproto.Atom) (xproto.Window, error) {
	r, err := c.extension("XFIXES")
	if err != nil {
		return 0, err
	}
	if _, err := xfixes.QueryVersion(c.X, 5, 0).Reply(); err != nil {
		return 0, fmt.Errorf("x11 xfixes version: %w", err)
	}
	c.xfixesEvent.Store(uint32(r.FirstEvent) + 1)
	w, err := xproto.NewWindowId(c.X)
	if err != nil {
		return 0, fmt.Errorf("x11 window id: %w", err)
	}
	err = xproto.CreateWindowChecked(c.X, 0, w, c.Root, -10, -10, 1, 1, 0,
		xproto.WindowClassInputOnly, 0, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange}).Check()
	if err != nil {
		return 0, fmt.Errorf("x11 create selection window: %w", err)
	}
	mask := uint32(xfixes.SelectionEventMaskSetSelectionOwner | xfixes.SelectionEventMaskSelectionWindowDestroy |
		xfixes.SelectionEventMaskSelectionClientClose)
	for _, s := range sel {
		if err := xfixes.SelectSelectionInputChecked(c.X, w, s, mask).Check(); err != nil {
			return 0, fmt.Errorf("x11 select selection input: %w", err)
		}
	}
	c.selectionWin = w
	return w, nil
}

// Atom interns name.
func (c *Conn) Atom(name string) (xproto.Atom, error) {
	r, err := xproto.InternAtom(c.X, false, uint16(len(name)), name).Reply()
	if err != nil {
		return 0, fmt.Errorf("x11 intern atom %s: %w", name, err)
	}
	return r.Atom, nil
}
