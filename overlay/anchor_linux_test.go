//go:build linux

package overlay

import (
	"image"
	"testing"

	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/xproto"

	"pcipause/e2e/xenv"
	"pcipause/hooks/x11"
)

// framed maps a white application window under openbox and waits until the window manager
// has put it in a frame; it returns the window and its absolute bounds.
func (p *peer) framed(r image.Rectangle) (xproto.Window, image.Rectangle) {
	p.t.Helper()
	app := p.window(r, false, 0)
	until(p.t, "openbox frames the window", func() bool {
		f, err := x11.FrameOf(p.conn, p.root, app)
		return err == nil && f != app && p.viewable(app)
	})
	return app, p.bounds(app)
}

func (p *peer) bounds(w xproto.Window) image.Rectangle {
	p.t.Helper()
	g, err := xproto.GetGeometry(p.conn, xproto.Drawable(w)).Reply()
	if err != nil {
		p.t.Fatal(err)
	}
	t, err := xproto.TranslateCoordinates(p.conn, w, p.root, 0, 0).Reply()
	if err != nil {
		p.t.Fatal(err)
	}
	return image.Rect(int(t.DstX), int(t.DstY), int(t.DstX)+int(g.Width), int(t.DstY)+int(g.Height))
}

// uncovered counts the pixels of r on screen that are not black.
func (p *peer) uncovered(r image.Rectangle) int {
	p.t.Helper()
	img, err := xproto.GetImage(p.conn, xproto.ImageFormatZPixmap, xproto.Drawable(p.root),
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0xffffffff).Reply()
	if err != nil {
		p.t.Fatal(err)
	}
	n := 0
	for i := 0; i+3 < len(img.Data); i += 4 {
		if img.Data[i] > 8 || img.Data[i+1] > 8 || img.Data[i+2] > 8 {
			n++
		}
	}
	return n
}

func (o *x11Overlay) anchorID() xproto.Window {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.anchored
}

// anchorOver shows a mask over rel (relative to app, at bounds b), anchors it to app and
// waits until the anchor window exists; it returns that window.
func anchorOver(t *testing.T, o *x11Overlay, app xproto.Window, b, rel image.Rectangle) xproto.Window {
	t.Helper()
	if err := o.Show(rel.Add(b.Min), testLabel); err != nil {
		t.Fatal(err)
	}
	o.Anchor(uint64(app), rel)
	until(t, "the anchor is made", func() bool { return o.anchorID() != 0 })
	return o.anchorID()
}

// TestAnchorMovesWithWindow: a window moved while masked is covered at its new place at once,
// by the anchor the X server moves with the window's frame, before the overlay has been told
// of the move (the test never calls Move: the top-level mask stays where it was).
func TestAnchorMovesWithWindow(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{})
	p := newPeer(t, env.Display)
	// xgb registers extension events in a global table: initialise before the overlay's
	// connections receive events.
	if err := shape.Init(p.conn); err != nil {
		t.Fatal(err)
	}
	app, b := p.framed(image.Rect(100, 100, 700, 400))
	o := newTestOverlay(t, env.Display)
	rel := image.Rect(50, 40, 450, 90)
	anchor := anchorOver(t, o, app, b, rel)
	frame, _ := x11.FrameOf(p.conn, p.root, app)
	tr, err := xproto.QueryTree(p.conn, anchor).Reply()
	if err != nil || tr.Parent != frame {
		t.Fatalf("anchor %#x: parent %#x (err %v), want the frame %#x", anchor, tr.Parent, err, frame)
	}
	if rs, err := shape.GetRectangles(p.conn, anchor, shape.SkInput).Reply(); err != nil || len(rs.Rectangles) != 0 {
		t.Errorf("anchor input region %v (err %v), want empty: click-through", rs, err)
	}

	// The top-level mask stays where it was shown, so each new place is picked clear of it:
	// only the anchor can cover the field there.
	shown := rel.Add(b.Min)
	for i, to := range []image.Point{{400, 400}, {0, 420}, {300, 440}} {
		// The application moves itself; openbox moves the frame. The overlay is not told.
		xproto.ConfigureWindow(p.conn, app, xproto.ConfigWindowX|xproto.ConfigWindowY,
			[]uint32{uint32(to.X), uint32(to.Y)})
		p.conn.Sync()
		var nb image.Rectangle
		until(t, "the window moved", func() bool { nb = p.bounds(app); return nb.Min != b.Min })
		b = nb
		if rel.Add(b.Min).Overlaps(shown) {
			t.Fatalf("test set-up: the field's new place %v overlaps the mask's %v", rel.Add(b.Min), shown)
		}
		if n := p.uncovered(rel.Add(b.Min)); n != 0 {
			t.Errorf("move %d to %v: %d pixels of the field uncovered at its new place", i, b.Min, n)
		}
	}

	if err := o.Hide(); err != nil {
		t.Fatal(err)
	}
	until(t, "the anchor is dropped", func() bool { return o.anchorID() == 0 })
	if _, err := xproto.GetWindowAttributes(p.conn, anchor).Reply(); err == nil {
		t.Errorf("anchor window %#x still exists after Hide", anchor)
	}
	if n := p.uncovered(rel.Add(b.Min)); n == 0 {
		t.Error("field still black after Hide")
	}
}

// TestAnchorOutlivesItsWindow: when the anchored window closes, its frame takes the anchor
// with it; anchoring the next window makes a new one there.
func TestAnchorOutlivesItsWindow(t *testing.T) {
	env := xenv.ForTest(t, xenv.Options{})
	p := newPeer(t, env.Display)
	app, b := p.framed(image.Rect(100, 100, 700, 400))
	o := newTestOverlay(t, env.Display)
	rel := image.Rect(10, 10, 300, 60)
	first := anchorOver(t, o, app, b, rel)
	xproto.DestroyWindow(p.conn, app)
	p.conn.Sync()
	until(t, "the frame is gone with its anchor", func() bool {
		_, err := xproto.GetWindowAttributes(p.conn, first).Reply()
		return err != nil
	})

	app2, b2 := p.framed(image.Rect(200, 150, 800, 450))
	if err := o.Show(rel.Add(b2.Min), testLabel); err != nil {
		t.Fatal(err)
	}
	o.Anchor(uint64(app2), rel)
	until(t, "a new anchor in the new frame", func() bool {
		a := o.anchorID()
		if a == 0 || a == first {
			return false
		}
		f, _ := x11.FrameOf(p.conn, p.root, app2)
		tr, err := xproto.QueryTree(p.conn, a).Reply()
		return err == nil && tr.Parent == f
	})
	// Moving the mask (as the guard does when the window moves) keeps the same anchor.
	a := o.anchorID()
	if err := o.Move(rel.Add(b2.Min).Add(image.Pt(5, 5))); err != nil {
		t.Fatal(err)
	}
	o.Anchor(0, image.Rectangle{})
	until(t, "the anchor dropped when the mask spans windows", func() bool { return o.anchorID() == 0 })
	if _, err := xproto.GetWindowAttributes(p.conn, a).Reply(); err == nil {
		t.Errorf("anchor window %#x still exists after Anchor(0)", a)
	}
}

// TestNoAnchorWithoutFrame: without a reparenting window manager there is no frame, and the
// overlay puts nothing inside the application's own window.
func TestNoAnchorWithoutFrame(t *testing.T) {
	p, o, field := overField(t)
	app := p.window(image.Rect(50, 50, 800, 300), false, 0)
	if err := o.Show(field, testLabel); err != nil {
		t.Fatal(err)
	}
	o.Anchor(uint64(app), field.Sub(image.Pt(50, 50)))
	until(t, "the anchor goroutine has acted", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.anchorRuns > 0
	})
	if a := o.anchorID(); a != 0 {
		t.Errorf("anchor %#x made without a frame", a)
	}
	tr, err := xproto.QueryTree(p.conn, app).Reply()
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Children) != 0 {
		t.Errorf("application window has children %v: the overlay put a window inside it", tr.Children)
	}
}
