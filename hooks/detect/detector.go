package detect

import (
	"image"
	"regexp"
	"strconv"

	"pcipause/hooks"
	"pcipause/hooks/card"
)

// Trigger says what opened a PCI window (or raised the mask).
type Trigger string

const (
	TriggerNone      Trigger = ""
	TriggerFieldRule Trigger = "field-rule" // focus entered a configured sensitive field
	TriggerPAN       Trigger = "pan"        // a Luhn-valid card number was typed
	TriggerThreshold Trigger = "threshold"  // a digit run reached mask_at
	TriggerPaste     Trigger = "paste"      // a paste while the clipboard held a card number
	TriggerInherited Trigger = "inherited"  // a previous helper process left a PCI window open
)

// DefaultField is the PCI field name reported for runs detected outside a field rule.
const DefaultField = "credit_card_number"

// View is what the detector wants on screen and from the service after an event. It holds
// no digits: only counts, a precomputed label and names from the config and the window.
type View struct {
	Mask     bool            // the mask must be up
	Rect     image.Rectangle // where; empty = the area is unknown, cover the whole screen
	Label    string          // what the mask says
	Pause    bool            // a PCI window must be open (the recording paused)
	Trigger  Trigger         // the strongest reason for Pause (or for Mask when not pausing)
	Field    string          // field rule name, or DefaultField
	Digits   int             // digits in the current run
	Checksum bool            // the current run is a confirmed PAN
	Brand    Brand
	// Anchor is the window the whole mask lies in, and AnchorRel the masked area relative to
	// that window's origin; 0 when the mask spans several windows or its area is unknown. An
	// overlay that can pin the mask to the window (Anchorer) keeps it there as the window moves.
	Anchor    uint64
	AnchorRel image.Rectangle
}

const (
	maxRunChars = 48 // digits and separators of one run kept for Backspace
	maxEntries  = 8  // windows tracked at once with card data still on screen
	maxSeps     = 2  // consecutive separators still inside a run ("4111 - 1111")
)

// entry is a window that holds, or may hold, card data.
type entry struct {
	used   bool
	id     uint64
	win    image.Rectangle // window bounds, absolute; empty = unknown
	rel    image.Rectangle // area to mask, relative to win.Min
	sticky bool            // more than six digits (or a PAN, or a field-rule value) remain on screen
	pause  bool            // ... and they ask for a PCI window
	trig   Trigger
	field  string
}

func (e *entry) abs() image.Rectangle { return e.rel.Add(e.win.Min) }

// Detector is the detection state machine. It is not safe for concurrent use (the Guard
// serialises it) and never allocates after NewDetector.
type Detector struct {
	cfg Config

	entries  [maxEntries]entry
	overflow bool // more windows with card data than entries: mask the whole screen

	// the focused window or field
	focus    hooks.Focus
	cur      int             // index into entries, -1 if no focus seen yet
	fieldRel image.Rectangle // the focused field relative to the window (whole window if unknown)
	excluded bool
	terminal terminalKind // line editing of the focused window
	rule     int          // index of the matching field rule, -1 if none
	selAll   bool
	clipPAN  bool

	digitRun             // the live run
	runField hooks.Field // the field the live run is in
	owns     bool        // the live run alone made its window sticky (it was resumed)

	// Runs left unfinished when focus moved away. Their digits are still in their fields, so
	// typing on when focus comes back continues the run: counting afresh would let digits 7
	// and on render unmasked, and a card typed in pieces would never be confirmed.
	parks   [maxEntries]park
	parkSeq uint64
}

// park is a run left in a field of window win.
type park struct {
	digitRun
	win   uint64
	field hooks.Field
	owned bool   // the window is sticky only because of this run
	seq   uint64 // when it was parked; the oldest is given up first
}

// digitRun is one run of digits: chars[i] is a digit value 0-9 or sepMark; digs holds the
// digits only.
type digitRun struct {
	chars [maxRunChars]byte
	digs  [maxRunChars]byte
	ln    int
	nd    int
	seps  int  // consecutive separators at the end
	lost  bool // the run outgrew chars: Backspace can no longer prove it erased
}

// wipe clears the run. Every reset goes through here.
func (r *digitRun) wipe() {
	clear(r.chars[:])
	clear(r.digs[:])
	r.ln, r.nd, r.seps, r.lost = 0, 0, 0, false
}

const sepMark = 0xff

// NewDetector returns a detector for cfg (defaults filled in).
func NewDetector(cfg Config) *Detector {
	d := &Detector{cfg: cfg.withDefaults(), cur: -1, rule: -1}
	return d
}

// wipe clears the live run.
func (d *Detector) wipe() {
	d.digitRun.wipe()
	d.runField, d.owns = hooks.Field{}, false
}

// runPAN reports whether the live run is a confirmed PAN.
func (d *Detector) runPAN() (Brand, bool) {
	if d.lost || d.nd < 13 || d.nd > 19 {
		return card.BrandNone, false
	}
	return card.IsPAN(d.digs[:d.nd])
}

func (d *Detector) current() *entry {
	if d.cur < 0 {
		return nil
	}
	return &d.entries[d.cur]
}

// endRun closes the live run: more than six digits, a PAN, or anything typed into a
// sensitive field stays masked in its window until erased.
func (d *Detector) endRun() {
	if e := d.current(); e != nil && d.nd > 0 {
		_, pan := d.runPAN()
		inRule := d.rule >= 0
		if pan || d.nd > MaxMaskAt || inRule || d.lost {
			d.markSticky(e)
			switch {
			case inRule:
				e.pause, e.trig, e.field = true, TriggerFieldRule, d.cfg.Fields[d.rule].Name
			case pan:
				e.pause, e.trig = true, TriggerPAN
			case d.cfg.PauseOn == PauseOnThreshold:
				e.pause, e.trig = true, TriggerThreshold
			default:
				if e.trig == TriggerNone {
					e.trig = TriggerThreshold
				}
			}
		}
	}
	d.wipe()
}

// leaveRun ends the live run as focus moves away and parks it, so that typing on in the
// same field continues it. A run whose end keeps its window masked is parked as well: the
// rest of a card typed after coming back must still confirm it, and erasing the run must
// still release the window.
func (d *Detector) leaveRun() {
	e := d.current()
	if e == nil || d.nd == 0 || d.lost {
		d.endRun()
		return
	}
	p := &d.parks[d.parkSlot(e.id, d.runField)]
	owned := d.owns || !e.sticky
	p.digitRun, p.win, p.field = d.digitRun, e.id, d.runField
	d.endRun() // marks the window sticky if the run stays; disowns its other parks
	p.owned = owned && e.sticky
	d.parkSeq++
	p.seq = d.parkSeq
}

// parkSlot finds the park for a run in window win and field f: the one already there, a free
// one, or the oldest.
func (d *Detector) parkSlot(win uint64, f hooks.Field) int {
	free, oldest := -1, 0
	for i := range d.parks {
		p := &d.parks[i]
		switch {
		case p.ln > 0 && p.win == win && p.field == f:
			return i
		case p.ln == 0:
			if free < 0 {
				free = i
			}
		case p.seq < d.parks[oldest].seq:
			oldest = i
		}
	}
	if free >= 0 {
		return free
	}
	d.dropPark(oldest)
	return oldest
}

// dropPark wipes park i: the zero park holds no digits.
func (d *Detector) dropPark(i int) { d.parks[i] = park{} }

// resumeRun continues the newest run parked in the focused window's field. An unknown field
// on either side counts as the same one: counting digits that are elsewhere only masks
// sooner, while missing digits could let a seventh render.
func (d *Detector) resumeRun() {
	e := d.current()
	if e == nil {
		return
	}
	best := -1
	for i := range d.parks {
		p := &d.parks[i]
		if p.ln > 0 && p.win == e.id && sameField(p.field, d.focus.Field) && (best < 0 || p.seq > d.parks[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	p := &d.parks[best]
	d.digitRun, d.runField, d.owns = p.digitRun, p.field, p.owned
	if d.runField == (hooks.Field{}) {
		d.runField = d.focus.Field
	}
	d.dropPark(best)
}

// sameField reports whether a and b may be the same field; unknown matches anything, and
// the bounds are left out because a window that moved moves its fields.
func sameField(a, b hooks.Field) bool {
	if a == (hooks.Field{}) || b == (hooks.Field{}) {
		return true
	}
	return a.Role == b.Role && a.Label == b.Label && a.AutomationID == b.AutomationID
}

// disown records that window win holds card data besides its parked runs: erasing one of
// them no longer proves the window clear.
func (d *Detector) disown(win uint64) {
	for i := range d.parks {
		if d.parks[i].win == win {
			d.parks[i].owned = false
		}
	}
}

func (d *Detector) markSticky(e *entry) {
	d.disown(e.id)
	e.sticky = true
	if e.field == "" {
		e.field = DefaultField
	}
	e.rel = unionRect(e.rel, d.fieldRel)
}

// clearCurrent forgets card data in the focused window: the agent erased it.
func (d *Detector) clearCurrent() {
	d.wipe()
	if e := d.current(); e != nil {
		e.sticky, e.pause, e.trig, e.field, e.rel = false, false, TriggerNone, "", image.Rectangle{}
	}
	d.settleOverflow()
}

// settleOverflow drops the whole-screen fallback once no window holds card data.
func (d *Detector) settleOverflow() {
	for i := range d.entries {
		if d.entries[i].used && d.entries[i].sticky {
			return
		}
	}
	d.overflow = false
}

// slot finds or makes the entry for window id.
func (d *Detector) slot(id uint64) int {
	free := -1
	for i := range d.entries {
		e := &d.entries[i]
		if e.used && e.id == id {
			return i
		}
		if free < 0 && (!e.used || !e.sticky && i != d.cur) {
			free = i
		}
	}
	if free < 0 {
		// Every slot holds card data: keep them all masked by covering the screen until
		// one is cleared, and reuse the oldest-numbered slot for the new window.
		d.overflow = true
		free = 0
		if free == d.cur {
			free = 1
		}
	}
	d.entries[free] = entry{used: true, id: id}
	return free
}

// Focus handles a new focused window or field. The same window and field again (its title
// changed) keeps the run going and only matches the rules again: resetting there would let a
// run restart its count while the earlier digits are still on screen. Another window or
// field parks the live run (leaveRun) and resumes the one parked in the new field, if any.
func (d *Detector) Focus(f hooks.Focus) View {
	if d.cur >= 0 && f.Window.ID == d.focus.Window.ID && f.Field == d.focus.Field {
		rule, excluded, rel := d.match(f)
		if rule != d.rule || excluded != d.excluded {
			d.endRun() // judged under the old rule: digits typed into a rule field stay masked
		}
		d.focus, d.rule, d.excluded, d.fieldRel = f, rule, excluded, rel
		d.terminal = terminalOf(f.Window)
		d.entries[d.cur].win = f.Window.Bounds
		return d.View()
	}
	d.leaveRun()
	d.selAll = false
	if e := d.current(); e != nil && !e.sticky {
		e.used = false
	}
	d.focus = f
	d.cur = d.slot(f.Window.ID)
	d.entries[d.cur].win = f.Window.Bounds
	d.rule, d.excluded, d.fieldRel = d.match(f)
	d.terminal = terminalOf(f.Window)
	if !d.excluded || d.rule >= 0 {
		d.resumeRun()
	}
	return d.View()
}

// match finds the field rule and exclusion for f, and the area to mask relative to the window.
func (d *Detector) match(f hooks.Focus) (rule int, excluded bool, rel image.Rectangle) {
	w := f.Window
	if !w.Bounds.Empty() {
		rel = image.Rectangle{Max: w.Bounds.Size()}
		if fb := f.Field.Bounds; !fb.Empty() {
			rel = readable(fb.Sub(w.Bounds.Min), w.Bounds.Size())
		}
	}
	for i := range d.cfg.Exclude {
		if d.cfg.Exclude[i].match(w.Exe, w.Class, w.Title) {
			excluded = true
			break
		}
	}
	rule = -1
	for i := range d.cfg.Fields {
		r := &d.cfg.Fields[i]
		if !r.App.match(w.Exe, w.Class, w.Title) {
			continue
		}
		if r.hasFieldPattern() {
			if f.Field == (hooks.Field{}) || !r.Label.match(f.Field.Label) || !r.Role.match(f.Field.Role) ||
				!r.AutomationID.match(f.Field.AutomationID) {
				continue
			}
		} else if r.Rect != [4]int{} && !w.Bounds.Empty() {
			rel = readable(r.rect(), w.Bounds.Size())
		}
		rule = i
		break
	}
	return rule, excluded, rel
}

// Moved handles new bounds of a window seen before; empty bounds mean it was destroyed.
func (d *Detector) Moved(w hooks.Window) View {
	if w.Bounds.Empty() {
		for i := range d.parks {
			if d.parks[i].win == w.ID {
				d.dropPark(i)
			}
		}
	}
	for i := range d.entries {
		e := &d.entries[i]
		if !e.used || e.id != w.ID {
			continue
		}
		if w.Bounds.Empty() {
			// Destroyed: nothing of it is on screen any more.
			if i == d.cur {
				d.wipe()
				d.fieldRel = image.Rectangle{}
			}
			*e = entry{used: i == d.cur, id: w.ID}
			d.settleOverflow()
			continue
		}
		if i == d.cur && !d.fieldRel.Empty() && d.fieldRel == (image.Rectangle{Max: e.win.Size()}) {
			d.fieldRel = image.Rectangle{Max: w.Bounds.Size()} // whole window follows a resize
		}
		if e.rel == (image.Rectangle{Max: e.win.Size()}) {
			e.rel = image.Rectangle{Max: w.Bounds.Size()}
		}
		e.win = w.Bounds
	}
	if d.focus.Window.ID == w.ID {
		d.focus.Window.Bounds = w.Bounds
	}
	return d.View()
}

// Clipboard records whether a paste would insert a card number.
func (d *Detector) Clipboard(holdsPAN bool) View {
	d.clipPAN = holdsPAN
	return d.View()
}

// Key handles one key press. It does not allocate.
func (d *Detector) Key(k hooks.Key) View {
	if d.cur < 0 {
		// Keys before any focus report: track them against an unknown window, which
		// masks the whole screen if it comes to that.
		d.cur = d.slot(0)
	}
	if k.Code == hooks.KeyModifier {
		return d.View()
	}
	sel := d.selAll
	d.selAll = false
	if d.excluded && d.rule < 0 {
		d.wipe()
		return d.View()
	}
	switch k.Code {
	case hooks.KeyDigit:
		if sel {
			d.clearCurrent()
		}
		if k.Digit < '0' || k.Digit > '9' {
			d.endRun()
			break
		}
		if d.nd == 0 {
			d.runField = d.focus.Field
		}
		if d.ln < maxRunChars {
			d.chars[d.ln] = k.Digit - '0'
			d.digs[d.nd] = k.Digit - '0'
			d.ln++
		} else {
			d.lost = true
		}
		if d.nd < maxRunChars {
			d.nd++
		}
		d.seps = 0
	case hooks.KeySeparator:
		if sel {
			d.clearCurrent()
		}
		if d.nd == 0 || d.seps >= maxSeps {
			d.endRun()
			break
		}
		if d.ln < maxRunChars {
			d.chars[d.ln] = sepMark
			d.ln++
		} else {
			d.lost = true
		}
		d.seps++
	case hooks.KeyBackspace:
		if sel {
			d.clearCurrent()
			break
		}
		if d.ln > 0 && !d.lost {
			d.ln--
			if d.chars[d.ln] != sepMark {
				d.nd--
				d.digs[d.nd] = 0
				d.seps = 0
			} else if d.seps > 0 {
				d.seps--
			}
			d.chars[d.ln] = 0
			if d.ln == 0 && d.owns {
				d.clearCurrent() // a resumed run erased: so is what kept the window masked
			}
		} else if d.ln == 0 {
			d.endRun()
		}
	case hooks.KeyDelete:
		if sel {
			d.clearCurrent()
			break
		}
		// Delete at the end of a run removes nothing we can see: keep the run as it is.
	case hooks.KeyClearLine:
		// Ctrl+U erases the line in a Unix terminal; elsewhere it may do nothing at all.
		if d.terminal == unixTerminal {
			d.clearCurrent()
		} else {
			d.endRun()
		}
	case hooks.KeySelectAll:
		// Ctrl+A selects all in a text field; in a terminal it moves to the line start (or
		// selects screen text), and a Backspace after it erases nothing.
		if d.terminal != notTerminal {
			d.endRun()
		} else {
			d.selAll = true
		}
	case hooks.KeyPaste, hooks.KeyPrimaryPaste:
		if sel {
			d.clearCurrent()
		}
		d.endRun()
		if d.clipPAN {
			e := d.current()
			d.markSticky(e)
			e.pause = true
			if e.trig != TriggerFieldRule {
				e.trig = TriggerPaste
			}
		}
	default: // Enter, Tab, Escape, other keys: the run is over; its digits stay on screen.
		d.endRun()
	}
	return d.View()
}

// Inherit marks the focused window as holding card data that a previous helper process saw:
// it was killed or crashed while masking, so this process never saw the digits. The window
// stays masked with a PCI window open, exactly as after a confirmed PAN, until the agent
// erases the field or the window goes away. With no focused window known yet the whole
// screen is masked (fail closed).
func (d *Detector) Inherit() View {
	e := d.current()
	if e == nil {
		d.overflow = true
		v := d.View()
		v.Pause, v.Trigger, v.Field = true, TriggerInherited, DefaultField
		return v
	}
	d.disown(e.id)
	d.owns = false
	e.sticky, e.pause, e.trig = true, true, TriggerInherited
	if e.field == "" {
		e.field = DefaultField
	}
	if e.rel.Empty() && !e.win.Empty() {
		e.rel = image.Rect(0, 0, e.win.Dx(), e.win.Dy())
	}
	return d.View()
}

// View computes what should be on screen now. It does not allocate.
func (d *Detector) View() View {
	var v View
	unknown, spans := d.overflow, false
	add := func(id uint64, win, rel image.Rectangle) {
		if win.Empty() || rel.Empty() {
			unknown = true
			return
		}
		v.Rect = unionRect(v.Rect, rel.Add(win.Min))
		switch v.Anchor {
		case 0:
			v.Anchor, v.AnchorRel = id, rel
		case id:
			v.AnchorRel = unionRect(v.AnchorRel, rel)
		default:
			spans = true
		}
	}
	e := d.current()
	brand, pan := d.runPAN()
	if e != nil {
		if d.rule >= 0 {
			v.Mask, v.Pause, v.Trigger, v.Field = true, true, TriggerFieldRule, d.cfg.Fields[d.rule].Name
			add(e.id, e.win, d.fieldRel)
		}
		if d.nd >= d.cfg.MaskAt || pan {
			v.Mask = true
			add(e.id, e.win, d.fieldRel)
			if v.Trigger == TriggerNone {
				v.Field = DefaultField
				switch {
				case pan:
					v.Pause, v.Trigger = true, TriggerPAN
				case d.cfg.PauseOn == PauseOnThreshold:
					v.Pause, v.Trigger = true, TriggerThreshold
				default:
					v.Trigger = TriggerThreshold
				}
			}
		}
	}
	for i := range d.entries {
		x := &d.entries[i]
		if !x.used || !x.sticky {
			continue
		}
		v.Mask = true
		add(x.id, x.win, x.rel)
		if x.pause && !v.Pause {
			v.Pause = true
			v.Trigger, v.Field = x.trig, x.field
		} else if v.Trigger == TriggerNone {
			v.Trigger, v.Field = x.trig, x.field
		}
	}
	if unknown {
		v.Rect = image.Rectangle{}
	}
	if unknown || spans {
		v.Anchor, v.AnchorRel = 0, image.Rectangle{}
	}
	v.Digits, v.Checksum, v.Brand = d.nd, pan, brand
	v.Label = d.label(pan)
	if !v.Mask {
		v.Label = ""
	}
	return v
}

func (d *Detector) label(pan bool) string {
	switch {
	case d.nd > 0:
		if pan {
			return labelsOK[d.nd]
		}
		return labels[d.nd]
	case d.rule >= 0:
		return LabelField
	}
	if e := d.current(); e != nil && e.trig == TriggerPaste {
		return LabelPasted
	}
	return LabelCard
}

// Labels shown on the mask; the per-count ones are built once, so no key allocates.
const (
	LabelPrefix = "Hidden from recording"
	LabelField  = LabelPrefix + " · card field"
	LabelPasted = LabelPrefix + " · pasted card number"
	LabelCard   = LabelPrefix + " · card number"
)

var labels, labelsOK = func() (a, b [maxRunChars + 1]string) {
	for n := range a {
		unit := " digits"
		if n == 1 {
			unit = " digit"
		}
		a[n] = LabelPrefix + " · " + strconv.Itoa(n) + unit
		b[n] = a[n] + " · checksum OK"
	}
	return a, b
}()

// Terminals are told apart by executable or window class because their line editing
// differs from a text field's: in a Unix terminal (readline) Ctrl+A moves to the line start
// and Ctrl+U erases the line; in a Windows console neither erases anything.
var (
	unixTerminals = regexp.MustCompile(`(?i)^(?:u?xterm|.*rxvt.*|st|st-256color|gnome-terminal.*|konsole|` +
		`xfce4-terminal|mate-terminal|lxterminal|qterminal|terminator|tilix|alacritty|kitty|wezterm.*|foot)$`)
	windowsConsoles = regexp.MustCompile(`(?i)^(?:conhost\.exe|windowsterminal\.exe|cmd\.exe|powershell\.exe|` +
		`pwsh\.exe|putty(?:\.exe)?|mintty(?:\.exe)?|consolewindowclass|cascadia_hosting_window_class|puttytel)$`)
)

type terminalKind uint8

const (
	notTerminal terminalKind = iota
	unixTerminal
	windowsConsole
)

func terminalOf(w hooks.Window) terminalKind {
	switch {
	case unixTerminals.MatchString(w.Exe) || unixTerminals.MatchString(w.Class):
		return unixTerminal
	case windowsConsoles.MatchString(w.Exe) || windowsConsoles.MatchString(w.Class):
		return windowsConsole
	}
	return notTerminal
}

// Smallest mask for a field: the overlay's label ("Hidden from recording · 16 digits ·
// checksum OK") needs about this much room to be drawn at a readable size.
const (
	minMaskW = 360
	minMaskH = 28
)

// readable grows a field's rectangle (relative to a window of size win) to at least
// minMaskW×minMaskH, centred on the field and kept inside the window, so the label the agent
// types by stays legible. Growing only covers more of the window.
func readable(r image.Rectangle, win image.Point) image.Rectangle {
	grow := func(lo, hi, min, limit int) (int, int) {
		if hi-lo < min {
			extra := min - (hi - lo)
			lo, hi = lo-extra/2, hi+extra-extra/2
		}
		if lo < 0 {
			lo, hi = 0, hi-lo
		}
		if hi > limit {
			lo, hi = lo-(hi-limit), limit
		}
		return max(lo, 0), hi
	}
	r.Min.X, r.Max.X = grow(r.Min.X, r.Max.X, minMaskW, win.X)
	r.Min.Y, r.Max.Y = grow(r.Min.Y, r.Max.Y, minMaskH, win.Y)
	return r.Intersect(image.Rectangle{Max: win})
}

// unionRect is image.Rectangle.Union without treating an empty operand specially twice.
func unionRect(a, b image.Rectangle) image.Rectangle {
	if a.Empty() {
		return b
	}
	if b.Empty() {
		return a
	}
	return a.Union(b)
}
