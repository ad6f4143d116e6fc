// Package detect decides, key by key, when card data is on screen: it turns the hooks event
// stream into mask and PCI-window decisions (Detector) and carries them out against the
// overlay and the service link (Guard).
//
// The rules (DESIGN.md "Detection"):
//   - Field rules mask a matching field (or a rectangle of the window, or the whole window) as
//     soon as it gets focus, before any key, and open a PCI window.
//   - In every application not excluded, a run of digits (single spaces or dashes inside
//     allowed) masks at the MaskAt-th digit (default 4, never later than the 6th), so the 7th
//     digit - the first one PCI DSS does not let a display show - never renders unmasked.
//   - A Luhn-valid 13-19 digit run of a known brand is a confirmed PAN: the label says
//     "checksum OK" and a PCI window opens (pause_on = "pan"); with pause_on = "threshold" the
//     threshold alone opens one.
//   - A run is reset when focus moves to another window or field, but not forgotten: it is
//     parked with its field, and typing on after focus comes back continues it, so a card
//     typed in pieces between other windows still masks by its mask_at-th digit in the field
//     and is still confirmed (the mask goes up again on focus, before any key).
//   - A paste key while the clipboard holds a PAN masks before the paste lands.
//   - A window that showed more than six digits stays masked until the digits are erased
//     (Backspace over the run, Ctrl+A then delete, Ctrl+U) or the window goes away; only then,
//     after the hold-down (default 500 ms), is the mask hidden and the PCI window closed.
//     Any trigger inside the hold-down cancels it.
//
// Digits live only in the detector's fixed-size run buffer, which is wiped on every reset.
// No method allocates per key event.
package detect

import (
	"errors"
	"fmt"
	"image"
	"regexp"
	"strings"
	"time"
)

// Pattern is a compiled, anchored, case-insensitive regular expression from the config. The
// zero Pattern matches anything (the key was not set).
type Pattern struct {
	src string
	re  *regexp.Regexp
}

// ParsePattern compiles s as a Go regular expression that must match the whole value,
// ignoring case. "" gives the zero Pattern.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, nil
	}
	re, err := regexp.Compile(`(?i)^(?:` + s + `)$`)
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
	}
	return Pattern{src: s, re: re}, nil
}

// MustPattern is ParsePattern for patterns written in Go source (tests, defaults); it panics
// on a bad pattern and must not be used on config input.
func MustPattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// UnmarshalText lets TOML/JSON decoders fill a Pattern, rejecting a bad expression there.
func (p *Pattern) UnmarshalText(b []byte) error {
	q, err := ParsePattern(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// MarshalText returns the source expression.
func (p Pattern) MarshalText() ([]byte, error) { return []byte(p.src), nil }

// String returns the source expression.
func (p Pattern) String() string { return p.src }

// IsZero reports whether the pattern was not set.
func (p Pattern) IsZero() bool { return p.re == nil }

func (p Pattern) match(s string) bool { return p.re == nil || p.re.MatchString(s) }

// AppMatch selects applications. Every set pattern must match; an AppMatch with none set
// matches nothing (so an empty [[exclude]] table cannot exclude everything).
type AppMatch struct {
	Exe   Pattern `toml:"exe" json:"exe,omitempty"`     // executable base name, e.g. "softphone"
	Class Pattern `toml:"class" json:"class,omitempty"` // WM_CLASS class / window class
	Title Pattern `toml:"title" json:"title,omitempty"` // window title at focus time
}

func (a AppMatch) empty() bool { return a.Exe.IsZero() && a.Class.IsZero() && a.Title.IsZero() }

func (a AppMatch) match(exe, class, title string) bool {
	return !a.empty() && a.Exe.match(exe) && a.Class.match(class) && a.Title.match(title)
}

// FieldRule marks a field as sensitive: focus entering it masks at once and opens a PCI
// window. With no field patterns and no Rect, the whole window is the field.
type FieldRule struct {
	Name         string   `toml:"name" json:"name"` // reported as the PCI field, e.g. "credit_card_number"
	App          AppMatch `toml:"app" json:"app"`
	Label        Pattern  `toml:"label" json:"label,omitempty"`                 // accessible name / label
	Role         Pattern  `toml:"role" json:"role,omitempty"`                   // accessible role
	AutomationID Pattern  `toml:"automation_id" json:"automation_id,omitempty"` // UI Automation id
	// Rect is x, y, width, height relative to the window's client area; all zero = unset.
	Rect [4]int `toml:"rect" json:"rect,omitempty"`
}

func (r FieldRule) hasFieldPattern() bool {
	return !r.Label.IsZero() || !r.Role.IsZero() || !r.AutomationID.IsZero()
}

func (r FieldRule) rect() image.Rectangle {
	return image.Rect(r.Rect[0], r.Rect[1], r.Rect[0]+r.Rect[2], r.Rect[1]+r.Rect[3])
}

// PauseOn says which trigger asks the service to pause the recording.
type PauseOn string

const (
	PauseOnPAN       PauseOn = "pan"       // only a confirmed PAN, a paste of one, or a field rule
	PauseOnThreshold PauseOn = "threshold" // also a digit run reaching MaskAt
)

// Defaults.
const (
	DefaultMaskAt   = 4
	DefaultHoldDown = 500 * time.Millisecond
	// MaxMaskAt is the latest digit the mask may wait for: PCI DSS lets a display show the
	// first six digits, so the mask must be up before the 7th.
	MaxMaskAt = 6
)

// Config is the detector's part of the agent config ([detect] table).
type Config struct {
	// MaskAt is the digit of a run at which the mask goes up (1-6, default 4). Masking at
	// the 4th rather than the 6th leaves the overlay three keystrokes to be on screen before
	// the 7th digit, instead of one, which covers scheduler stalls of a loaded machine.
	MaskAt   int           `toml:"mask_at" json:"mask_at,omitempty"`
	PauseOn  PauseOn       `toml:"pause_on" json:"pause_on,omitempty"`   // "pan" (default) or "threshold"
	HoldDown time.Duration `toml:"hold_down" json:"hold_down,omitempty"` // default 500ms
	Exclude  []AppMatch    `toml:"exclude" json:"exclude,omitempty"`     // apps where digit runs are ignored
	Fields   []FieldRule   `toml:"field" json:"field,omitempty"`         // sensitive fields
}

// Validate reports every problem in c, naming the key.
func (c Config) Validate() error {
	var errs []error
	if c.MaskAt < 0 || c.MaskAt > MaxMaskAt {
		errs = append(errs, fmt.Errorf("detect.mask_at: %d is outside 1-%d (0 = default %d)", c.MaskAt, MaxMaskAt, DefaultMaskAt))
	}
	switch c.PauseOn {
	case "", PauseOnPAN, PauseOnThreshold:
	default:
		errs = append(errs, fmt.Errorf("detect.pause_on: %q is not \"pan\" or \"threshold\"", string(c.PauseOn)))
	}
	if c.HoldDown < 0 || c.HoldDown > time.Minute {
		errs = append(errs, fmt.Errorf("detect.hold_down: %v is outside 0-1m", c.HoldDown))
	}
	for i, a := range c.Exclude {
		if a.empty() {
			errs = append(errs, fmt.Errorf("detect.exclude[%d]: set exe, class or title", i))
		}
	}
	for i, f := range c.Fields {
		name := f.Name
		if strings.TrimSpace(name) == "" {
			errs = append(errs, fmt.Errorf("detect.field[%d]: name is empty", i))
			name = fmt.Sprint(i)
		}
		if f.App.empty() {
			errs = append(errs, fmt.Errorf("detect.field %q: app needs exe, class or title", name))
		}
		if f.Rect != [4]int{} && (f.Rect[2] <= 0 || f.Rect[3] <= 0 || f.Rect[0] < 0 || f.Rect[1] < 0) {
			errs = append(errs, fmt.Errorf("detect.field %q: rect %v needs x,y >= 0 and width,height > 0", name, f.Rect))
		}
	}
	return errors.Join(errs...)
}

// withDefaults fills zero values and clamps what Validate would reject, so a Guard built
// from an unvalidated Config still fails safe (masks no later than the 6th digit).
func (c Config) withDefaults() Config {
	if c.MaskAt <= 0 || c.MaskAt > MaxMaskAt {
		c.MaskAt = DefaultMaskAt
	}
	if c.PauseOn != PauseOnThreshold {
		c.PauseOn = PauseOnPAN
	}
	if c.HoldDown <= 0 || c.HoldDown > time.Minute {
		c.HoldDown = DefaultHoldDown
	}
	return c
}
