package x11

import (
	"encoding/binary"
	"fmt"
	"image"
	"strings"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Atoms the hooks use, interned once per connection.
type Atoms struct {
	NetActiveWindow, NetWMPID, NetWMName, UTF8String, WMClass, WMName xproto.Atom
	Clipboard, Primary, ClipboardProp, PrimaryProp                    xproto.Atom
	NetSupportingWMCheck                                              xproto.Atom
}

// InternAtoms interns every atom in Atoms.
func (c *Conn) InternAtoms() (Atoms, error) {
	var a Atoms
	for _, x := range []struct {
		p    *xproto.Atom
		name string
	}{
		{&a.NetActiveWindow, "_NET_ACTIVE_WINDOW"}, {&a.NetWMPID, "_NET_WM_PID"},
		{&a.NetWMName, "_NET_WM_NAME"}, {&a.UTF8String, "UTF8_STRING"}, {&a.WMClass, "WM_CLASS"},
		{&a.WMName, "WM_NAME"}, {&a.Clipboard, "CLIPBOARD"}, {&a.Primary, "PRIMARY"},
		{&a.ClipboardProp, "_PCIPAUSE_CLIPBOARD"}, {&a.PrimaryProp, "_PCIPAUSE_PRIMARY"},
		{&a.NetSupportingWMCheck, "_NET_SUPPORTING_WM_CHECK"},
	} {
		v, err := c.Atom(x.name)
		if err != nil {
			return a, err
		}
		*x.p = v
	}
	return a, nil
}

// property reads up to maxLen 4-byte units of a property.
func (c *Conn) property(w xproto.Window, prop, typ xproto.Atom, maxLen uint32) (*xproto.GetPropertyReply, error) {
	r, err := xproto.GetProperty(c.X, false, w, prop, typ, 0, maxLen).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11 get property: %w", err)
	}
	return r, nil
}

// ActiveWindow reads _NET_ACTIVE_WINDOW from the root (0 if unset or none).
func (c *Conn) ActiveWindow(a Atoms) (xproto.Window, error) {
	r, err := c.property(c.Root, a.NetActiveWindow, xproto.AtomWindow, 1)
	if err != nil {
		return 0, err
	}
	if r.Format != 32 || len(r.Value) < 4 {
		return 0, nil
	}
	return xproto.Window(binary.LittleEndian.Uint32(r.Value)), nil
}

// HasEWMH reports whether an EWMH window manager runs (it sets _NET_SUPPORTING_WM_CHECK).
func (c *Conn) HasEWMH(a Atoms) (bool, error) {
	r, err := c.property(c.Root, a.NetSupportingWMCheck, xproto.AtomWindow, 1)
	if err != nil {
		return false, err
	}
	return r.Format == 32 && len(r.Value) >= 4, nil
}

// InputFocus returns the top-level window that has the keyboard focus without a window
// manager's help: the focus window, or the one under the pointer in PointerRoot mode.
// 0 means none.
func (c *Conn) InputFocus() (xproto.Window, error) {
	r, err := xproto.GetInputFocus(c.X).Reply()
	if err != nil {
		return 0, fmt.Errorf("x11 get input focus: %w", err)
	}
	w := r.Focus
	if w == xproto.InputFocusPointerRoot || w == c.Root {
		p, err := xproto.QueryPointer(c.X, c.Root).Reply()
		if err != nil {
			return 0, fmt.Errorf("x11 query pointer: %w", err)
		}
		w = p.Child
	}
	if w == xproto.InputFocusNone || w == 0 {
		return 0, nil
	}
	return c.Frame(w)
}

// WindowInfo is what the hooks report about a top-level window.
type WindowInfo struct {
	PID          int
	Class, Title string
}

// Info reads _NET_WM_PID, WM_CLASS and the title (_NET_WM_NAME, else WM_NAME) of w. Missing
// properties leave fields empty; only a dead connection is an error.
func (c *Conn) Info(w xproto.Window, a Atoms) (WindowInfo, error) {
	var info WindowInfo
	r, err := c.property(w, a.NetWMPID, xproto.AtomCardinal, 1)
	if err != nil {
		return info, err
	}
	if r.Format == 32 && len(r.Value) >= 4 {
		info.PID = int(binary.LittleEndian.Uint32(r.Value))
	}
	if r, err = c.property(w, a.WMClass, xproto.AtomString, 64); err != nil {
		return info, err
	}
	if parts := strings.Split(strings.TrimRight(string(r.Value), "\x00"), "\x00"); len(parts) == 2 {
		info.Class = parts[1]
	} else if len(parts) == 1 {
		info.Class = parts[0]
	}
	if r, err = c.property(w, a.NetWMName, a.UTF8String, 256); err != nil {
		return info, err
	}
	if len(r.Value) == 0 {
		if r, err = c.property(w, a.WMName, xproto.AtomAny, 256); err != nil {
			return info, err
		}
	}
	info.Title = string(r.Value)
	return info, nil
}

// Bounds is the absolute rectangle of w's area on the root window; an error if w is gone.
func (c *Conn) Bounds(w xproto.Window) (image.Rectangle, error) {
	g, err := xproto.GetGeometry(c.X, xproto.Drawable(w)).Reply()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("x11 get geometry: %w", err)
	}
	t, err := xproto.TranslateCoordinates(c.X, w, c.Root, 0, 0).Reply()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("x11 translate coordinates: %w", err)
	}
	x, y := int(t.DstX), int(t.DstY)
	return image.Rect(x, y, x+int(g.Width), y+int(g.Height)), nil
}

// Frame is w's ancestor that is a child of the root (the window manager's frame), or w.
func (c *Conn) Frame(w xproto.Window) (xproto.Window, error) { return FrameOf(c.X, c.Root, w) }

// FrameOf is Conn.Frame on any connection to the display whose root window is root.
func FrameOf(x *xgb.Conn, root, w xproto.Window) (xproto.Window, error) {
	for i := 0; i < 16; i++ {
		t, err := xproto.QueryTree(x, w).Reply()
		if err != nil {
			return 0, fmt.Errorf("x11 query tree: %w", err)
		}
		if t.Parent == root || t.Parent == 0 {
			return w, nil
		}
		w = t.Parent
	}
	return w, nil
}

// Listen adds StructureNotify (and PropertyChange when props) to this client's event mask on w.
func (c *Conn) Listen(w xproto.Window, props bool) error {
	mask := uint32(xproto.EventMaskStructureNotify)
	if props {
		mask |= xproto.EventMaskPropertyChange
	}
	if err := xproto.ChangeWindowAttributesChecked(c.X, w, xproto.CwEventMask, []uint32{mask}).Check(); err != nil {
		return fmt.Errorf("x11 select structure events: %w", err)
	}
	return nil
}

// Modifiers returns the current modifier and button mask (QueryPointer).
func (c *Conn) Modifiers() (uint16, error) {
	r, err := xproto.QueryPointer(c.X, c.Root).Reply()
	if err != nil {
		return 0, fmt.Errorf("x11 query pointer: %w", err)
	}
	return r.Mask, nil
}

// maxSelection bounds how much of a selection is read for classification (4-byte units).
const maxSelection = 1024

// RequestSelection asks the owner of sel to convert it to UTF8_STRING into prop on our
// window; the answer comes as a SelectionNotify event on the main event stream.
func (c *Conn) RequestSelection(sel, prop xproto.Atom, a Atoms) {
	xproto.ConvertSelection(c.X, c.selectionWin, sel, a.UTF8String, prop, xproto.TimeCurrentTime)
}

// TakeSelection reads and deletes the converted selection and passes its bytes to f, then
// wipes them. Text longer than 4 KiB, or sent incrementally, is passed truncated / empty.
func (c *Conn) TakeSelection(prop xproto.Atom, f func([]byte)) error {
	r, err := xproto.GetProperty(c.X, true, c.selectionWin, prop, xproto.AtomAny, 0, maxSelection).Reply()
	if err != nil {
		return fmt.Errorf("x11 read selection: %w", err)
	}
	if r.BytesAfter > 0 {
		xproto.DeleteProperty(c.X, c.selectionWin, prop) // GetProperty deletes only what it read whole
	}
	if r.Format == 8 {
		f(r.Value)
	} else {
		f(nil)
	}
	clear(r.Value)
	return nil
}
