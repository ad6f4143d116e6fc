package tray

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// x11Clipboard puts the diagnostics on the X11 CLIPBOARD selection without cgo: an unmapped
// window owns the selection and answers paste requests until another client copies something
// or the tray stops. X11 keeps no copy of its own, so the text stays pasteable only while the
// helper runs (unless a clipboard manager takes it over). Without an X display — a Wayland
// session without Xwayland, a bare console — the text goes to a file and the log says where.
type x11Clipboard struct {
	log   *slog.Logger
	mu    sync.Mutex
	owner *selectionOwner
	wg    sync.WaitGroup
}

func newClipboard(log *slog.Logger) clipboard { return &x11Clipboard{log: log} }

func (c *x11Clipboard) copy(text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopOwnerLocked()
	o, err := ownClipboard(text)
	if err != nil {
		path, ferr := writeDiagnosticsFile(text)
		if ferr != nil {
			return "", fmt.Errorf("copy diagnostics: no X11 clipboard (%v), no file: %w", err, ferr)
		}
		c.log.Warn("no X11 clipboard; diagnostics written to a file instead", "path", path, "err", err)
		return "file " + path, nil
	}
	c.owner = o
	c.wg.Go(o.serve)
	return "X11 CLIPBOARD selection", nil
}

func (c *x11Clipboard) stopOwnerLocked() {
	if c.owner != nil {
		c.owner.conn.Close()
		c.owner = nil
	}
	c.wg.Wait()
}

func (c *x11Clipboard) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopOwnerLocked()
}

// selectionOwner is one X connection owning CLIPBOARD with one text.
type selectionOwner struct {
	conn                                  *xgb.Conn
	win                                   xproto.Window
	clipboard, targets, utf8, text, plain xproto.Atom
	plainUTF8                             xproto.Atom
	data                                  []byte // UTF-8
	latin1                                []byte // for STRING
}

func ownClipboard(text string) (_ *selectionOwner, err error) {
	if os.Getenv("DISPLAY") == "" {
		return nil, errors.New("own clipboard: DISPLAY is not set")
	}
	conn, err := xgb.NewConn()
	if err != nil {
		return nil, fmt.Errorf("own clipboard: connect to X display: %w", err)
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	o := &selectionOwner{conn: conn, data: []byte(text), latin1: toLatin1(text)}
	for _, a := range []struct {
		name string
		dst  *xproto.Atom
	}{
		{"CLIPBOARD", &o.clipboard}, {"TARGETS", &o.targets}, {"UTF8_STRING", &o.utf8},
		{"TEXT", &o.text}, {"text/plain", &o.plain}, {"text/plain;charset=utf-8", &o.plainUTF8},
	} {
		r, err := xproto.InternAtom(conn, false, uint16(len(a.name)), a.name).Reply()
		if err != nil {
			return nil, fmt.Errorf("own clipboard: intern atom %s: %w", a.name, err)
		}
		*a.dst = r.Atom
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	if o.win, err = xproto.NewWindowId(conn); err != nil {
		return nil, fmt.Errorf("own clipboard: window id: %w", err)
	}
	if err := xproto.CreateWindowChecked(conn, 0, o.win, screen.Root, -10, -10, 1, 1, 0,
		xproto.WindowClassInputOnly, 0, 0, nil).Check(); err != nil {
		return nil, fmt.Errorf("own clipboard: create window: %w", err)
	}
	if err := xproto.SetSelectionOwnerChecked(conn, o.win, o.clipboard, xproto.TimeCurrentTime).Check(); err != nil {
		return nil, fmt.Errorf("own clipboard: set selection owner: %w", err)
	}
	r, err := xproto.GetSelectionOwner(conn, o.clipboard).Reply()
	if err != nil {
		return nil, fmt.Errorf("own clipboard: get selection owner: %w", err)
	}
	if r.Owner != o.win {
		return nil, errors.New("own clipboard: the X server gave CLIPBOARD to another client")
	}
	return o, nil
}

// serve answers paste requests until another client owns CLIPBOARD or the connection closes.
func (o *selectionOwner) serve() {
	defer o.conn.Close()
	for {
		ev, xerr := o.conn.WaitForEvent()
		if ev == nil && xerr == nil {
			return // closed
		}
		switch e := ev.(type) {
		case xproto.SelectionRequestEvent:
			o.answer(e)
		case xproto.SelectionClearEvent:
			return
		}
	}
}

// answer converts the text to the requested target, per ICCCM §2.2.
func (o *selectionOwner) answer(e xproto.SelectionRequestEvent) {
	prop := e.Property
	if prop == xproto.AtomNone {
		prop = e.Target // obsolete clients
	}
	switch e.Target {
	case o.targets:
		atoms := []xproto.Atom{o.targets, o.utf8, o.plainUTF8, o.text, xproto.AtomString, o.plain}
		buf := make([]byte, 4*len(atoms))
		for i, a := range atoms {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(a))
		}
		xproto.ChangeProperty(o.conn, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomAtom, 32, uint32(len(atoms)), buf)
	case o.utf8, o.plainUTF8, o.text:
		xproto.ChangeProperty(o.conn, xproto.PropModeReplace, e.Requestor, prop, o.utf8, 8, uint32(len(o.data)), o.data)
	case xproto.AtomString, o.plain:
		xproto.ChangeProperty(o.conn, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomString, 8, uint32(len(o.latin1)), o.latin1)
	default:
		prop = xproto.AtomNone
	}
	n := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
	xproto.SendEvent(o.conn, false, e.Requestor, 0, string(n.Bytes()))
}

// toLatin1 encodes text for the STRING target; characters outside Latin-1 become '?'.
func toLatin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}
