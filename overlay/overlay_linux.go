//go:build linux

package overlay

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/xproto"
)

var _ Overlay = (*x11Overlay)(nil)

// x11Overlay keeps its windows on one xgb connection. xgb connections are safe for concurrent
// use, so Show may run on any goroutine; mu guards the overlay's own state. All drawing of
// labels happens on the event goroutine, driven by Expose, so it never delays a Show.
type x11Overlay struct {
	log    *slog.Logger
	conn   *xgb.Conn
	root   xproto.Window
	depth  byte
	screen image.Rectangle
	hasRR  bool
	font   *labelFont
	// draw is a second connection for everything off the key path — label uploads and copies,
	// and Check's readback — so a large PutImage or GetImage never queues ahead of a Show.
	draw *xgb.Conn
	gc   xproto.Gcontext // on draw, for label uploads and copies

	// labels caches rendered labels as server-side pixmaps, keyed by size and text; the digit
	// count in a label changes with every key, and the same few labels come back every episode.
	// Only the event goroutine touches it.
	labels     map[string]*labelPix
	labelOrder []string

	wins []*maskWin // fixed after newPlatform

	mu     sync.Mutex
	closed bool
	shown  bool
	// gen counts Show, Move and Hide: a Check whose readback overlapped one of them read a
	// screen in transition and concludes nothing.
	gen uint64
	// drawn counts labels drawn (on Expose, after a relabelling Show): a Check whose
	// readback overlapped one compared the screen with a label no longer there, so it reads
	// again.
	drawn uint64
	// fallbackLogged is set once the whole-screen fallback was logged for this shown episode.
	fallbackLogged bool
	rect           image.Rectangle
	label          string
	monitors       []image.Rectangle

	// anchorWant is the anchor the guard asked for (see anchor_linux.go); anchored is the
	// anchor window made for it, 0 when none, as the anchor goroutine last left it.
	anchorWant anchorSpec
	anchored   xproto.Window
	anchorRuns uint64        // times the anchor goroutine has acted on what was wanted
	anchorKick chan struct{} // cap 1: wakes the anchor goroutine
	anchorStop chan struct{} // closed by Close
	anchorDone chan struct{}

	closeOnce sync.Once
	loopDone  chan struct{}
	drainDone chan struct{}
}

// maskWin is one pre-created window. Fields after id are guarded by x11Overlay.mu.
type maskWin struct {
	id     xproto.Window
	mapped bool
	r      image.Rectangle // current geometry when mapped
	lbl    *image.Gray     // label as last drawn, for Check
}

// labelPix is a rendered label: its pixels (for Check) and the pixmap holding them (0 when the
// mask is too small for text).
type labelPix struct {
	img *image.Gray
	pm  xproto.Pixmap
}

const maxCachedLabels = 48

func newPlatform(opts Options, log *slog.Logger) (Overlay, error) {
	if opts.SeeThrough {
		log.Warn("see-through mask is not supported on X11; using a solid black mask")
	}
	lf, err := newLabelFont()
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	conn, err := xgb.NewConnDisplay(opts.Display)
	if err != nil {
		return nil, fmt.Errorf("overlay: connect to display %q: %w", opts.Display, err)
	}
	draw, err := xgb.NewConnDisplay(opts.Display)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("overlay: second connection to display %q: %w", opts.Display, err)
	}
	o := &x11Overlay{log: log, conn: conn, draw: draw, font: lf, loopDone: make(chan struct{}),
		drainDone: make(chan struct{}), labels: map[string]*labelPix{},
		anchorKick: make(chan struct{}, 1), anchorStop: make(chan struct{}), anchorDone: make(chan struct{})}
	if err := o.setup(opts.Windows); err != nil {
		conn.Close()
		draw.Close()
		return nil, fmt.Errorf("overlay: %w", err)
	}
	go o.loop()
	go o.drain()
	go o.anchorLoop()
	return o, nil
}

func (o *x11Overlay) setup(n int) error {
	setup := xproto.Setup(o.conn)
	scr := setup.DefaultScreen(o.conn)
	o.root, o.depth = scr.Root, scr.RootDepth
	o.screen = image.Rect(0, 0, int(scr.WidthInPixels), int(scr.HeightInPixels))
	if err := shape.Init(o.conn); err != nil {
		return fmt.Errorf("SHAPE extension (needed for click-through): %w", err)
	}
	if err := shape.Init(o.draw); err != nil {
		return fmt.Errorf("SHAPE extension on the drawing connection: %w", err)
	}
	if err := randr.Init(o.conn); err == nil {
		if v, err := randr.QueryVersion(o.conn, 1, 5).Reply(); err == nil && (v.MajorVersion > 1 || v.MinorVersion >= 5) {
			o.hasRR = true
			randr.SelectInput(o.conn, o.root, randr.NotifyMaskScreenChange)
		}
	}
	o.monitors = o.queryMonitors()
	if err := xproto.ChangeWindowAttributesChecked(o.conn, o.root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskSubstructureNotify}).Check(); err != nil {
		return fmt.Errorf("watch root window stacking: %w", err)
	}
	for i := 0; i < n; i++ {
		id, err := xproto.NewWindowId(o.conn)
		if err != nil {
			return fmt.Errorf("allocate window id: %w", err)
		}
		// Black background so the server paints the mask on map, before any client drawing;
		// save-under and no backing store keep it simple for the server.
		err = xproto.CreateWindowChecked(o.conn, xproto.WindowClassCopyFromParent, id, o.root,
			0, 0, 1, 1, 0, xproto.WindowClassInputOutput, scr.RootVisual,
			xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwSaveUnder|xproto.CwEventMask,
			[]uint32{scr.BlackPixel, 1, 1, xproto.EventMaskExposure}).Check()
		if err != nil {
			return fmt.Errorf("create mask window: %w", err)
		}
		// An empty input region makes the window click-through: pointer events go to whatever
		// is below, so the agent can still click into the field it cannot see.
		if err := shape.RectanglesChecked(o.conn, shape.SoSet, shape.SkInput, xproto.ClipOrderingUnsorted,
			id, 0, 0, nil).Check(); err != nil {
			return fmt.Errorf("make mask window click-through: %w", err)
		}
		name := "pcipause mask"
		xproto.ChangeProperty(o.conn, xproto.PropModeReplace, id, xproto.AtomWmName, xproto.AtomString, 8,
			uint32(len(name)), []byte(name))
		o.wins = append(o.wins, &maskWin{id: id})
	}
	if err := o.sync(); err != nil {
		return err
	}
	gc, err := xproto.NewGcontextId(o.draw)
	if err != nil {
		return fmt.Errorf("allocate gc id: %w", err)
	}
	if err := xproto.CreateGCChecked(o.draw, gc, xproto.Drawable(o.wins[0].id), 0, nil).Check(); err != nil {
		return fmt.Errorf("create gc: %w", err)
	}
	o.gc = gc
	return o.sync()
}

func (o *x11Overlay) queryMonitors() []image.Rectangle {
	if !o.hasRR {
		return nil
	}
	rep, err := randr.GetMonitors(o.conn, o.root, true).Reply()
	if err != nil {
		o.log.Debug("randr monitors unavailable", "err", err)
		return nil
	}
	var ms []image.Rectangle
	for _, m := range rep.Monitors {
		ms = append(ms, image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height)))
	}
	return ms
}

func (o *x11Overlay) ours(w xproto.Window) bool {
	for _, m := range o.wins {
		if m.id == w {
			return true
		}
	}
	return false
}

func (o *x11Overlay) Show(r image.Rectangle, label string) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	var redraw []*maskWin
	if label != o.label {
		// Windows already up need their label redrawn; ones mapped now get an Expose anyway.
		for _, w := range o.wins {
			if w.mapped {
				redraw = append(redraw, w)
			}
		}
	}
	// A new place re-checks the anchor; a new label alone leaves it be.
	reanchor := o.anchorWant.win != 0 && r != o.rect
	o.label = label
	o.rect = r
	o.shown = true
	o.gen++
	for _, w := range o.place(r) {
		if !slices.Contains(redraw, w) {
			redraw = append(redraw, w)
		}
	}
	o.mu.Unlock()
	if err := o.sync(); err != nil {
		return fmt.Errorf("overlay show: %w", err)
	}
	if reanchor {
		o.kickAnchor() // after the sync: the anchor's requests never queue ahead of the map
	}
	// The mask is up; the label follows on the event goroutine via Expose.
	for _, w := range redraw {
		xproto.ClearArea(o.conn, true, w.id, 0, 0, 0, 0)
	}
	return nil
}

// sync waits until the server has processed every request sent so far. Unlike xgb's Sync it
// reports a lost connection, so a mask that cannot be shown is an error, not silence.
func (o *x11Overlay) sync() error {
	if _, err := xproto.GetInputFocus(o.conn).Reply(); err != nil {
		return fmt.Errorf("display connection: %w", err)
	}
	return nil
}

// place configures, raises and maps one window per piece of r and unmaps the rest; it returns
// windows that were already mapped but changed size (their label must be redrawn). Caller holds mu.
func (o *x11Overlay) place(r image.Rectangle) []*maskWin {
	ps := pieces(r, o.screen, o.monitors, len(o.wins))
	if rc := r.Canon(); !o.fallbackLogged && len(ps) > 0 && (rc.Empty() || !rc.Overlaps(ps[0])) {
		// Once per shown episode: the caller's geometry is unknown or wrong, worth knowing.
		o.fallbackLogged = true
		o.log.Warn("mask area unknown or off every monitor; covering the whole screen", "rect", r.String())
	}
	var resized []*maskWin
	for i, w := range o.wins {
		if i >= len(ps) {
			if w.mapped {
				xproto.UnmapWindow(o.conn, w.id)
				w.mapped = false
			}
			continue
		}
		p := ps[i]
		if w.mapped && w.r == p {
			xproto.ConfigureWindow(o.conn, w.id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
			continue
		}
		if w.mapped && w.r.Size() != p.Size() {
			resized = append(resized, w)
		}
		xproto.ConfigureWindow(o.conn, w.id,
			xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowWidth|xproto.ConfigWindowHeight|xproto.ConfigWindowStackMode,
			[]uint32{uint32(int32(p.Min.X)), uint32(int32(p.Min.Y)), uint32(p.Dx()), uint32(p.Dy()), xproto.StackModeAbove})
		w.r = p
		if !w.mapped {
			xproto.MapWindow(o.conn, w.id)
			w.mapped = true
		}
	}
	return resized
}

func (o *x11Overlay) Move(r image.Rectangle) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	o.rect = r
	if !o.shown {
		o.mu.Unlock()
		return nil
	}
	o.gen++
	redraw := o.place(r)
	anchored := o.anchorWant.win != 0
	o.mu.Unlock()
	if err := o.sync(); err != nil {
		return fmt.Errorf("overlay move: %w", err)
	}
	if anchored {
		o.kickAnchor()
	}
	for _, w := range redraw {
		xproto.ClearArea(o.conn, true, w.id, 0, 0, 0, 0)
	}
	return nil
}

func (o *x11Overlay) Hide() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	o.shown, o.fallbackLogged = false, false
	o.gen++
	o.anchorWant = anchorSpec{}
	o.kickAnchor()
	for _, w := range o.wins {
		if w.mapped {
			xproto.UnmapWindow(o.conn, w.id)
			w.mapped = false
		}
	}
	o.mu.Unlock()
	if err := o.sync(); err != nil {
		return fmt.Errorf("overlay hide: %w", err)
	}
	return nil
}

// raise puts every mapped mask window back on top; called when another window maps or restacks.
func (o *x11Overlay) raise() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || !o.shown {
		return
	}
	for _, w := range o.wins {
		if w.mapped {
			xproto.ConfigureWindow(o.conn, w.id, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
		}
	}
}

// testHookBeforeReadback, when set by a test, runs between Check taking its snapshot of the
// mask and reading the screen back.
var testHookBeforeReadback func()

func (o *x11Overlay) Check() error {
	for attempt := 0; ; attempt++ {
		relabelled, err := o.check()
		if !relabelled {
			return err
		}
		if attempt == 2 {
			// Still relabelled under every readback (labels change with every key).
			return fmt.Errorf("overlay check: %w", ErrChanged)
		}
	}
}

// check is one readback. relabelled says a label was drawn while it ran, so a mismatch may
// be the new label's own pixels compared with the old one's.
func (o *x11Overlay) check() (relabelled bool, err error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false, ErrClosed
	}
	if !o.shown {
		o.mu.Unlock()
		return false, fmt.Errorf("overlay check: %w", ErrNotShown)
	}
	type want struct {
		r   image.Rectangle
		lbl *image.Gray
	}
	var ws []want
	for _, w := range o.wins {
		if w.mapped {
			ws = append(ws, want{w.r, w.lbl})
		}
	}
	gen, drawn := o.gen, o.drawn
	o.mu.Unlock()
	if testHookBeforeReadback != nil {
		testHookBeforeReadback()
	}
	if len(ws) == 0 {
		return false, errors.New("overlay check: shown but no mask window is mapped")
	}
	for _, w := range ws {
		if err = o.checkPiece(w.r, w.lbl); err != nil {
			break
		}
	}
	o.mu.Lock()
	changed, relabelled := o.gen != gen, o.drawn != drawn
	o.mu.Unlock()
	switch {
	case changed:
		return false, fmt.Errorf("overlay check: %w", ErrChanged)
	case err != nil && relabelled:
		return true, nil
	case err != nil:
		return false, fmt.Errorf("overlay check: %w", err)
	}
	return false, nil
}

// checkPiece reads r back from the root window (what a screen recorder would capture) and
// counts pixels that are neither black nor the label's own grey level at that spot.
func (o *x11Overlay) checkPiece(r image.Rectangle, lbl *image.Gray) error {
	if r.Empty() {
		return nil
	}
	rep, err := xproto.GetImage(o.draw, xproto.ImageFormatZPixmap, xproto.Drawable(o.root),
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0xffffffff).Reply()
	if err != nil {
		return fmt.Errorf("read back %v: %w", r, err)
	}
	if rep.Depth != 24 && rep.Depth != 32 {
		return fmt.Errorf("read back %v: unsupported depth %d", r, rep.Depth)
	}
	stride := len(rep.Data) / r.Dy()
	if stride < 4*r.Dx() {
		return fmt.Errorf("read back %v: short image (%d bytes)", r, len(rep.Data))
	}
	want := maskImage(lbl, r.Dx(), r.Dy())
	bad := 0
	for y := 0; y < r.Dy(); y++ {
		row := rep.Data[y*stride:]
		for x := 0; x < r.Dx(); x++ {
			b, g, rr := row[4*x], row[4*x+1], row[4*x+2]
			if b <= 8 && g <= 8 && rr <= 8 {
				continue
			}
			v := want.GrayAt(x, y).Y
			if near(b, v) && near(g, v) && near(rr, v) {
				continue
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("region %v not covered: %d of %d pixels are not mask-coloured", r, bad, r.Dx()*r.Dy())
	}
	return nil
}

func near(a, b uint8) bool { return int(a)+8 >= int(b) && int(b)+8 >= int(a) }

// loop is the overlay's event goroutine: it keeps the mask on top, draws labels on Expose and
// follows monitor changes. It ends when the connection closes.
func (o *x11Overlay) loop() {
	defer close(o.loopDone)
	for {
		ev, err := o.conn.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		if err != nil {
			o.log.Debug("x error", "err", err)
			continue
		}
		switch e := ev.(type) {
		case xproto.ExposeEvent:
			if e.Count == 0 {
				o.drawLabel(e.Window)
			}
		case xproto.MapNotifyEvent:
			if !o.ours(e.Window) {
				o.raise()
			}
		case xproto.ConfigureNotifyEvent:
			if e.Window == o.root {
				o.refreshScreen(int(e.Width), int(e.Height))
			} else if !o.ours(e.Window) {
				o.raise()
			}
		case xproto.CirculateNotifyEvent:
			if !o.ours(e.Window) {
				o.raise()
			}
		case randr.ScreenChangeNotifyEvent:
			o.refreshScreen(int(e.Width), int(e.Height))
		}
	}
}

// drain reads the drawing connection's events: only errors of unchecked drawing requests
// arrive there, and left unread they would fill xgb's queue and stall the connection.
func (o *x11Overlay) drain() {
	defer close(o.drainDone)
	for {
		ev, err := o.draw.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		if err != nil {
			o.log.Debug("x error while drawing", "err", err)
		}
	}
}

func (o *x11Overlay) refreshScreen(w, h int) {
	ms := o.queryMonitors()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.screen = image.Rect(0, 0, w, h)
	o.monitors = ms
	if o.shown && !o.closed {
		o.place(o.rect)
	}
}

// drawLabel copies the current label onto window id, rendering and uploading it first unless
// it is cached. Runs only on the event goroutine.
func (o *x11Overlay) drawLabel(id xproto.Window) {
	var w *maskWin
	for _, m := range o.wins {
		if m.id == id {
			w = m
		}
	}
	if w == nil {
		return
	}
	o.mu.Lock()
	label, r, mapped := o.label, w.r, w.mapped
	o.mu.Unlock()
	if !mapped {
		return
	}
	lp, err := o.labelFor(label, r.Dx(), r.Dy())
	if err != nil {
		o.log.Warn("label", "err", err)
		return
	}
	o.mu.Lock()
	w.lbl = lp.img
	o.drawn++
	o.mu.Unlock()
	// Everything outside the new label goes back to black first: a label drawn by a stale
	// Expose (from before a hide or a relabel) can land after the window was cleared, and a
	// taller old label would otherwise keep its edges around a smaller new one.
	var box image.Rectangle
	if lp.pm != 0 {
		sz := lp.img.Bounds().Size()
		box = image.Rectangle{Min: centre(sz, r.Dx(), r.Dy())}
		box.Max = box.Min.Add(sz)
	}
	for _, c := range around(image.Rect(0, 0, r.Dx(), r.Dy()), box) {
		xproto.ClearArea(o.draw, false, w.id, int16(c.Min.X), int16(c.Min.Y), uint16(c.Dx()), uint16(c.Dy()))
	}
	if lp.pm == 0 {
		return
	}
	xproto.CopyArea(o.draw, xproto.Drawable(lp.pm), xproto.Drawable(w.id), o.gc, 0, 0,
		int16(box.Min.X), int16(box.Min.Y), uint16(box.Dx()), uint16(box.Dy()))
}

// labelFor returns the rendered label for a w×h mask from the cache, rendering and uploading
// it on a miss and evicting the oldest entry when the cache is full.
func (o *x11Overlay) labelFor(label string, w, h int) (*labelPix, error) {
	key := fmt.Sprintf("%dx%d/%s", w, h, label)
	if lp, ok := o.labels[key]; ok {
		return lp, nil
	}
	img, err := o.font.render(label, w, h)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	lp := &labelPix{img: img}
	if img != nil {
		if lp.pm, err = o.upload(img); err != nil {
			return nil, err
		}
	}
	if len(o.labelOrder) >= maxCachedLabels {
		old := o.labelOrder[0]
		o.labelOrder = o.labelOrder[1:]
		if pm := o.labels[old].pm; pm != 0 {
			xproto.FreePixmap(o.draw, pm)
		}
		delete(o.labels, old)
	}
	o.labels[key] = lp
	o.labelOrder = append(o.labelOrder, key)
	return lp, nil
}

// upload puts a grey label image into a new server-side pixmap, in strips that respect the
// server's maximum request size.
func (o *x11Overlay) upload(img *image.Gray) (xproto.Pixmap, error) {
	sz := img.Bounds().Size()
	pm, err := xproto.NewPixmapId(o.draw)
	if err != nil {
		return 0, fmt.Errorf("allocate pixmap id: %w", err)
	}
	xproto.CreatePixmap(o.draw, o.depth, pm, xproto.Drawable(o.root), uint16(sz.X), uint16(sz.Y))
	maxBytes := int(xproto.Setup(o.draw).MaximumRequestLength)*4 - 64
	rows := max(1, maxBytes/(4*sz.X))
	for y0 := 0; y0 < sz.Y; y0 += rows {
		y1 := min(sz.Y, y0+rows)
		buf := make([]byte, 0, 4*sz.X*(y1-y0))
		for y := y0; y < y1; y++ {
			for x := 0; x < sz.X; x++ {
				v := img.GrayAt(x, y).Y
				buf = append(buf, v, v, v, 0)
			}
		}
		xproto.PutImage(o.draw, xproto.ImageFormatZPixmap, xproto.Drawable(pm), o.gc,
			uint16(sz.X), uint16(y1-y0), 0, int16(y0), 0, o.depth, buf)
	}
	return pm, nil
}

func (o *x11Overlay) Close() error {
	err := ErrClosed
	o.closeOnce.Do(func() {
		err = nil
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		close(o.anchorStop)
		<-o.anchorDone
		for _, w := range o.wins {
			xproto.DestroyWindow(o.conn, w.id)
		}
		o.conn.Sync()
		o.conn.Close()
		<-o.loopDone
		o.draw.Close()
		<-o.drainDone
	})
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
