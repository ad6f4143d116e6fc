// Package overlay draws the masking windows that black out card data on screen: solid black,
// click-through, always-on-top windows created hidden at start-up so that showing one on the
// key-event path costs a configure and a map, labelled for the agent typing blind, and checked
// by reading the screen back.
package overlay

import (
	"context"
	"errors"
	"image"
	"log/slog"
)

// Options configures New.
type Options struct {
	// Display names the X display ("" means $DISPLAY). Ignored on Windows.
	Display string
	// Windows is how many mask windows are created hidden up front (default 2). On X11 a field
	// that straddles monitors is covered by one window per monitor it touches.
	Windows int
	// SeeThrough asks for a capture-excluded, transparent mask (Windows only, off by default).
	// Where it is not supported the mask stays solid black and a warning is logged.
	SeeThrough bool
}

// Overlay is a set of pre-created masking windows. Every method is safe for concurrent use.
type Overlay interface {
	// Show covers r (screen coordinates) with a solid black mask labelled with label. An empty
	// r means the area is unknown, and the whole screen is covered: failing closed. It only
	// configures, maps and raises pre-created windows and waits for the display server to have
	// processed that, so it is cheap enough for the key-event path; the label is drawn just after,
	// off that path. Calling Show again moves the mask and updates the label.
	Show(r image.Rectangle, label string) error
	// Move moves the mask to r, keeping the label; while hidden it only records r.
	Move(r image.Rectangle) error
	// Hide unmaps the mask.
	Hide() error
	// Check reads the shown region back from the screen and returns an error unless every pixel
	// is mask-coloured (black, or the label's own pixels). While no mask is shown it returns an
	// error wrapping ErrNotShown without reading anything back; when the mask changed while it
	// was read back, one wrapping ErrChanged.
	Check() error
	// Close destroys the windows and stops the overlay's goroutines. It is idempotent.
	Close() error
}

var (
	// ErrClosed is returned by calls on a closed overlay.
	ErrClosed = errors.New("overlay closed")
	// ErrNotShown is returned by Check while no mask is shown (never shown, or hidden).
	ErrNotShown = errors.New("no mask shown")
	// ErrChanged is returned by Check when the mask was shown, moved or hidden while it was
	// being read back: what was read proves nothing either way.
	ErrChanged = errors.New("mask changed during the readback")
)

// New connects to the display and pre-creates the hidden mask windows. Cancelling ctx closes
// the overlay, as does Close.
func New(ctx context.Context, opts Options, log *slog.Logger) (Overlay, error) {
	if opts.Windows <= 0 {
		opts.Windows = 2
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "overlay")
	o, err := newPlatform(opts, log)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = o.Close() })
	return o, nil
}
