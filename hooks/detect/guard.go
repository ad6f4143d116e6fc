package detect

import (
	"image"
	"log/slog"
	"sync"
	"time"

	"pcipause/hooks"
	"pcipause/hooks/card"
)

// Masker is the overlay as the guard drives it. Show while shown updates rect and label.
// An empty rect means the area is unknown: cover the whole screen. Calls are synchronous
// and must be quick: Show runs inside the key hook.
type Masker interface {
	Show(r image.Rectangle, label string) error
	Move(r image.Rectangle) error
	Hide() error
}

// Anchorer is a Masker that can also pin the mask inside the window it covers, so that the
// display server carries it along when the window moves instead of the mask following one
// event later. After every Show or Move the guard calls Anchor with View.Anchor and
// View.AnchorRel when they changed (0 and an empty rect: the mask spans windows or its area is
// unknown). Anchor must not block: it runs inside the key hook. Hide drops the anchor.
type Anchorer interface {
	Anchor(win uint64, rel image.Rectangle)
}

// Brand is the card scheme of a confirmed PAN.
type Brand = card.Brand

// Reporter hears PCI windows open and close. It must not block: the session main forwards
// the episode to the service over IPC from its own goroutine.
type Reporter interface {
	Open(ev Episode)
	Close(ev Episode)
}

// Episode is one PCI window: from the first trigger until the data is gone and the
// hold-down has run out. It carries no digits.
type Episode struct {
	ID       uint64    // per guard, from 1
	Trigger  Trigger   // what opened it
	Field    string    // field rule name or DefaultField (the guide's pciField)
	Exe      string    // application it opened in
	Class    string    // its window class
	WindowID uint64    // its window
	Digits   int       // digits typed when it opened (0 for field rules and pastes)
	Checksum bool      // opened on a Luhn-valid PAN
	Brand    Brand     // scheme of that PAN
	At       time.Time // detection timestamp
	ClosedAt time.Time // set in Close
}

// Clock is time for the guard; tests swap in a fake.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Guard runs the detector on the hooks event stream and carries out its decisions: it shows,
// moves and hides the mask (synchronously, in the caller's goroutine, so a Windows keyboard
// hook returns only after the mask is up), opens and closes PCI windows through the
// Reporter, and runs the hold-down before anything is released. It implements hooks.Sink.
type Guard struct {
	log   *slog.Logger
	m     Masker
	r     Reporter
	clock Clock
	hold  time.Duration

	mu         sync.Mutex
	d          *Detector
	shown      bool
	shownRect  image.Rectangle
	shownLabel string
	anchor     uint64          // as last passed to Anchorer.Anchor while shown
	anchorRel  image.Rectangle // ditto
	open       bool
	ep         Episode
	nextID     uint64
	timer      Timer
	timerGen   uint64
	closed     bool
	maskErrs   uint64
}

var _ hooks.Sink = (*Guard)(nil)

// NewGuard returns a guard for cfg (zero values take the defaults; out-of-range values are
// clamped to them, so a guard never masks later than the 6th digit).
func NewGuard(cfg Config, m Masker, r Reporter, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := NewDetector(cfg)
	return &Guard{
		log: log.With("component", "detect"), m: m, r: r, clock: realClock{},
		hold: d.cfg.HoldDown, d: d,
	}
}

// SetClock replaces the clock; call before the first event (tests).
func (g *Guard) SetClock(c Clock) { g.clock = c }

// Focus implements hooks.Sink.
func (g *Guard) Focus(f hooks.Focus) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apply(g.d.Focus(f), time.Time{})
}

// Moved implements hooks.Sink.
func (g *Guard) Moved(w hooks.Window) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apply(g.d.Moved(w), time.Time{})
}

// Key implements hooks.Sink. When the key raises the mask, Masker.Show has returned before
// Key does. It does not allocate.
func (g *Guard) Key(k hooks.Key) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apply(g.d.Key(k), k.At)
}

// Clipboard implements hooks.Sink.
func (g *Guard) Clipboard(holdsPAN bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apply(g.d.Clipboard(holdsPAN), time.Time{})
}

// Inherit masks the focused window for card data a previous helper process left on screen
// (see Detector.Inherit) and opens a PCI window for it.
func (g *Guard) Inherit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apply(g.d.Inherit(), time.Time{})
}

// State reports whether the mask is up and a PCI window is open.
func (g *Guard) State() (masked, open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shown, g.open
}

// Close stops the hold-down timer. A mask that is up stays up and an open PCI window is not
// closed: stopping is not evidence that the data is gone.
func (g *Guard) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.stopTimer()
}

func (g *Guard) apply(v View, at time.Time) {
	if g.closed {
		return
	}
	if v.Mask {
		switch {
		case !g.shown || v.Label != g.shownLabel:
			g.show(v.Rect, v.Label)
		case v.Rect != g.shownRect:
			if err := g.m.Move(v.Rect); err != nil {
				g.maskFailed("move", err)
				g.show(v.Rect, v.Label)
			} else {
				g.shownRect = v.Rect
			}
		}
		if a, ok := g.m.(Anchorer); ok && g.shown && (v.Anchor != g.anchor || v.AnchorRel != g.anchorRel) {
			a.Anchor(v.Anchor, v.AnchorRel)
			g.anchor, g.anchorRel = v.Anchor, v.AnchorRel
		}
	}
	if v.Pause && !g.open {
		if at.IsZero() {
			at = g.clock.Now()
		}
		g.nextID++
		f := g.d.focus.Window
		g.ep = Episode{
			ID: g.nextID, Trigger: v.Trigger, Field: v.Field, Exe: f.Exe, Class: f.Class,
			WindowID: f.ID, Digits: v.Digits, Checksum: v.Checksum, Brand: v.Brand, At: at,
		}
		g.open = true
		g.log.Info("pci window open", "episode", g.ep.ID, "trigger", string(v.Trigger), "field", v.Field,
			"exe", f.Exe, "digits", v.Digits, "checksum", v.Checksum)
		g.r.Open(g.ep)
	}
	release := (g.shown && !v.Mask) || (g.open && !v.Pause)
	switch {
	case release && g.timer == nil:
		g.timerGen++
		gen := g.timerGen
		g.timer = g.clock.AfterFunc(g.hold, func() { g.holdExpired(gen) })
	case !release:
		g.stopTimer() // re-entry inside the hold-down cancels the release
	}
}

func (g *Guard) show(r image.Rectangle, label string) {
	if err := g.m.Show(r, label); err != nil {
		// Fail closed: keep wanting the mask; the next event tries again.
		g.maskFailed("show", err)
		g.shown = false
		g.anchor, g.anchorRel = 0, image.Rectangle{}
		return
	}
	g.shown, g.shownRect, g.shownLabel = true, r, label
}

func (g *Guard) maskFailed(op string, err error) {
	g.maskErrs++
	g.log.Error("mask "+op+" failed", "err", err, "failures", g.maskErrs)
}

func (g *Guard) stopTimer() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
		g.timerGen++
	}
}

func (g *Guard) holdExpired(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.timerGen || g.closed {
		return
	}
	g.timer = nil
	v := g.d.View()
	if g.shown && !v.Mask {
		if err := g.m.Hide(); err != nil {
			g.maskFailed("hide", err)
		}
		g.shown, g.shownLabel, g.shownRect = false, "", image.Rectangle{}
		g.anchor, g.anchorRel = 0, image.Rectangle{}
	}
	if g.open && !v.Pause {
		g.open = false
		g.ep.ClosedAt = g.clock.Now()
		g.log.Info("pci window closed", "episode", g.ep.ID, "trigger", string(g.ep.Trigger))
		g.r.Close(g.ep)
	}
}
