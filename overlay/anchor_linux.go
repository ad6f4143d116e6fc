//go:build linux

package overlay

import (
	"fmt"
	"image"

	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/xproto"

	"pcipause/hooks/x11"
)

// The anchor closes the gap a window move opens. The mask windows are override-redirect
// top-levels: they follow a move only once the overlay hears of it (ConfigureNotify, new
// geometry, Move), and a frame captured in between shows the field at its new place,
// uncovered. The anchor is one more black window, made a child of the window manager's frame
// of the masked window and stacked above the application inside it. The X server moves it
// with the frame in the same step, so the field is never uncovered; the top-level mask, which
// carries the label and stays above every other window, catches up one event later.
//
// All anchor work runs on its own goroutine over the drawing connection, off the key path:
// Anchor only records what is wanted. Move, and a Show that puts the mask somewhere new, wake
// the goroutine too, so a window whose frame or decoration changed is re-anchored one event
// later, like the mask itself.

// anchorSpec is the anchor wanted: the application window and the area to cover relative to
// its origin. The zero value means none.
type anchorSpec struct {
	win xproto.Window
	rel image.Rectangle
}

// anchorWin is the anchor as made; only the anchor goroutine touches it.
type anchorWin struct {
	id    xproto.Window // 0 when there is none
	frame xproto.Window
	r     image.Rectangle // relative to frame
}

// Anchor pins a black window over rel (relative to win's origin) inside win's window-manager
// frame, or drops it when win is 0. It does not block. It implements detect.Anchorer.
func (o *x11Overlay) Anchor(win uint64, rel image.Rectangle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.anchorWant = anchorSpec{win: xproto.Window(win), rel: rel.Canon()}
	if win == 0 || rel.Empty() {
		o.anchorWant = anchorSpec{}
	}
	o.kickAnchor()
}

// kickAnchor wakes the anchor goroutine; it never blocks.
func (o *x11Overlay) kickAnchor() {
	select {
	case o.anchorKick <- struct{}{}:
	default:
	}
}

// anchorLoop makes the anchor match what is wanted each time it is woken, until Close.
func (o *x11Overlay) anchorLoop() {
	defer close(o.anchorDone)
	var a anchorWin
	for {
		select {
		case <-o.anchorKick:
		case <-o.anchorStop:
			o.dropAnchor(&a)
			return
		}
		o.mu.Lock()
		want, shown := o.anchorWant, o.shown
		o.mu.Unlock()
		if !shown {
			want = anchorSpec{}
		}
		if err := o.applyAnchor(&a, want); err != nil {
			o.log.Debug("anchor", "err", err)
		}
		o.mu.Lock()
		o.anchored = a.id
		o.anchorRuns++
		o.mu.Unlock()
	}
}

// applyAnchor creates, moves or destroys the anchor window to match want. A window without
// a frame of its own (no reparenting window manager) gets no anchor: there is nothing to pin
// to that does not belong to the application.
func (o *x11Overlay) applyAnchor(a *anchorWin, want anchorSpec) error {
	if want.win == 0 {
		o.dropAnchor(a)
		return nil
	}
	frame, err := x11.FrameOf(o.draw, o.root, want.win)
	if err != nil {
		o.dropAnchor(a)
		return err
	}
	if frame == want.win {
		o.dropAnchor(a)
		return nil
	}
	t, err := xproto.TranslateCoordinates(o.draw, want.win, frame, 0, 0).Reply()
	if err != nil {
		o.dropAnchor(a)
		return fmt.Errorf("window position in its frame: %w", err)
	}
	r := want.rel.Add(image.Pt(int(t.DstX), int(t.DstY)))
	if a.id != 0 && a.frame != frame {
		o.dropAnchor(a)
	}
	if a.id != 0 {
		err := xproto.ConfigureWindowChecked(o.draw, a.id,
			xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowWidth|xproto.ConfigWindowHeight|xproto.ConfigWindowStackMode,
			[]uint32{uint32(int32(r.Min.X)), uint32(int32(r.Min.Y)), uint32(r.Dx()), uint32(r.Dy()), xproto.StackModeAbove}).Check()
		if err == nil {
			a.r = r
			return nil
		}
		// Gone with its frame (the window closed or was reparented): make a new one.
		a.id = 0
	}
	return o.createAnchor(a, frame, r)
}

// createAnchor makes the anchor window: an override-redirect child of frame (so the window
// manager, which redirects its frame's substructure, leaves it alone), black in the frame's
// own depth, click-through, mapped above the application.
func (o *x11Overlay) createAnchor(a *anchorWin, frame xproto.Window, r image.Rectangle) error {
	g, err := xproto.GetGeometry(o.draw, xproto.Drawable(frame)).Reply()
	if err != nil {
		return fmt.Errorf("frame geometry: %w", err)
	}
	black := uint32(0)
	if g.Depth == 32 {
		black = 0xff000000 // opaque in an ARGB frame, where pixel 0 is transparent
	}
	id, err := xproto.NewWindowId(o.draw)
	if err != nil {
		return fmt.Errorf("allocate anchor window id: %w", err)
	}
	err = xproto.CreateWindowChecked(o.draw, xproto.WindowClassCopyFromParent, id, frame,
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, xproto.WindowClassCopyFromParent,
		xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{black, 1}).Check()
	if err != nil {
		return fmt.Errorf("create anchor window: %w", err)
	}
	if err := shape.RectanglesChecked(o.draw, shape.SoSet, shape.SkInput, xproto.ClipOrderingUnsorted,
		id, 0, 0, nil).Check(); err != nil {
		xproto.DestroyWindow(o.draw, id)
		return fmt.Errorf("make anchor window click-through: %w", err)
	}
	name := "pcipause mask anchor"
	xproto.ChangeProperty(o.draw, xproto.PropModeReplace, id, xproto.AtomWmName, xproto.AtomString, 8,
		uint32(len(name)), []byte(name))
	xproto.ConfigureWindow(o.draw, id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
	if err := xproto.MapWindowChecked(o.draw, id).Check(); err != nil {
		xproto.DestroyWindow(o.draw, id)
		return fmt.Errorf("map anchor window: %w", err)
	}
	*a = anchorWin{id: id, frame: frame, r: r}
	return nil
}

// dropAnchor destroys the anchor window, if any. It may already be gone with its frame; the
// error that gives is read and logged by drain.
func (o *x11Overlay) dropAnchor(a *anchorWin) {
	if a.id != 0 {
		xproto.DestroyWindow(o.draw, a.id)
		xproto.GetInputFocus(o.draw).Reply() // processed before the next anchor is made
	}
	*a = anchorWin{}
}
