package detect

import (
	"image"
	"strings"
	"testing"
	"time"

	"pcipause/hooks"
	"pcipause/hooks/card"
)

var (
	winA = hooks.Window{ID: 0xa, PID: 10, Exe: "xterm", Class: "XTerm", Title: "shell", Bounds: image.Rect(100, 100, 600, 400)}
	winB = hooks.Window{ID: 0xb, PID: 11, Exe: "gedit", Class: "Gedit", Title: "notes", Bounds: image.Rect(700, 100, 1000, 500)}
	winP = hooks.Window{ID: 0xc, PID: 12, Exe: "softphone", Class: "Phone", Title: "dial", Bounds: image.Rect(0, 0, 200, 300)}
	winC = hooks.Window{ID: 0xd, PID: 13, Exe: "crm", Class: "Crm", Title: "Payment - CRM", Bounds: image.Rect(50, 50, 850, 650)}
)

// keys turns a compact script into key events:
// 0-9 digit, space or - separator, b backspace, d delete, x other, e enter, t tab, v paste,
// m middle-click paste, a select-all, u clear-line, s modifier.
func keys(script string) []hooks.Key {
	codes := map[byte]hooks.KeyCode{
		' ': hooks.KeySeparator, '-': hooks.KeySeparator, 'b': hooks.KeyBackspace, 'd': hooks.KeyDelete,
		'x': hooks.KeyOther, 'e': hooks.KeyEnter, 't': hooks.KeyTab, 'v': hooks.KeyPaste,
		'm': hooks.KeyPrimaryPaste, 'a': hooks.KeySelectAll, 'u': hooks.KeyClearLine, 's': hooks.KeyModifier,
	}
	var out []hooks.Key
	for i := 0; i < len(script); i++ {
		c := script[i]
		if c >= '0' && c <= '9' {
			out = append(out, hooks.Key{Code: hooks.KeyDigit, Digit: c})
			continue
		}
		code, ok := codes[c]
		if !ok {
			panic("bad key script char " + string(c))
		}
		out = append(out, hooks.Key{Code: code})
	}
	return out
}

// step is one event; exactly one of its fields is set.
type step struct {
	focus *hooks.Focus
	moved *hooks.Window
	clip  *bool
	keys  string
}

func focusOn(w hooks.Window) step               { return step{focus: &hooks.Focus{Window: w}} }
func retitle(w hooks.Window, title string) step { w.Title = title; return focusOn(w) }
func focusField(w hooks.Window, f hooks.Field) step {
	return step{focus: &hooks.Focus{Window: w, Field: f}}
}
func move(w hooks.Window, r image.Rectangle) step { w.Bounds = r; return step{moved: &w} }
func typed(s string) step                         { return step{keys: s} }
func clip(b bool) step                            { return step{clip: &b} }

func run(d *Detector, steps []step) View {
	v := d.View()
	for _, s := range steps {
		switch {
		case s.focus != nil:
			v = d.Focus(*s.focus)
		case s.moved != nil:
			v = d.Moved(*s.moved)
		case s.clip != nil:
			v = d.Clipboard(*s.clip)
		default:
			for _, k := range keys(s.keys) {
				v = d.Key(k)
			}
		}
	}
	return v
}

func testConfig() Config {
	return Config{
		Exclude: []AppMatch{{Exe: MustPattern("softphone")}},
		Fields: []FieldRule{
			{Name: "crm_card", App: AppMatch{Exe: MustPattern("crm"), Title: MustPattern(".*payment.*")}, Label: MustPattern("card number")},
			{Name: "crm_cvv_box", App: AppMatch{Exe: MustPattern("crm")}, Rect: [4]int{10, 20, 100, 30}},
			{Name: "term_pay", App: AppMatch{Class: MustPattern("xterm"), Title: MustPattern(".*payment.*")}},
		},
	}
}

func TestDetector(t *testing.T) {
	cardField := hooks.Field{Role: "text", Label: "Card number", Bounds: image.Rect(150, 200, 450, 230)}
	otherField := hooks.Field{Role: "text", Label: "Name", Bounds: image.Rect(150, 300, 450, 330)}
	cardMask := image.Rect(120, 200, 480, 230) // the 300 px field grown to 360 for the label
	nameField := hooks.Field{Role: "text", Label: "Name on card", Bounds: image.Rect(710, 120, 900, 140)}
	zipField := hooks.Field{Role: "text", Label: "Postcode", Bounds: image.Rect(710, 320, 900, 340)}
	tests := []struct {
		name  string
		cfg   *Config
		steps []step
		want  View // compared on Mask, Rect, Label, Pause, Trigger, Field, Digits, Checksum
	}{
		{"three digits do not mask", nil, []step{focusOn(winA), typed("411")},
			View{Digits: 3}},
		{"fourth digit masks the window", nil, []step{focusOn(winA), typed("4111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"mask_at 6 waits for the sixth", &Config{MaskAt: 6}, []step{focusOn(winA), typed("41111")},
			View{Digits: 5}},
		{"mask_at 6 masks at the sixth", &Config{MaskAt: 6}, []step{focusOn(winA), typed("411111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 6 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 6}},
		{"mask_at out of range is clamped", &Config{MaskAt: 9}, []step{focusOn(winA), typed("4111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"visa confirmed", nil, []step{focusOn(winA), typed(panVisa)},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"grouped visa confirmed", nil, []step{focusOn(winA), typed("4111 1111-1111 1111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"amex confirmed", nil, []step{focusOn(winA), typed("3400 000000 00009")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 15 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 15, Checksum: true}},
		{"modifiers do not break a run", nil, []step{focusOn(winA), typed("55s00005s555555559")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"bad checksum masks without pause", nil, []step{focusOn(winA), typed("4111111111111112")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 16}},
		{"pause_on threshold pauses at mask_at", &Config{PauseOn: PauseOnThreshold}, []step{focusOn(winA), typed("4111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 4 digits", Pause: true, Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"letter resets the run", nil, []step{focusOn(winA), typed("411x111")},
			View{Digits: 3}},
		{"three separators reset the run", nil, []step{focusOn(winA), typed("41   11")},
			View{Digits: 2}},
		{"short run released by a letter", nil, []step{focusOn(winA), typed("41111x")},
			View{}},
		{"long non-card run stays masked after a letter", nil, []step{focusOn(winA), typed("5551234567x")},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Trigger: TriggerThreshold, Field: DefaultField}},
		{"pan stays masked and paused after enter", nil, []step{focusOn(winA), typed(panVisa + "e")},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"backspace erases the run", nil, []step{focusOn(winA), typed("4111 1111 1111 1111" + strings.Repeat("b", 19))},
			View{}},
		{"backspace partly erases", nil, []step{focusOn(winA), typed(panVisa + strings.Repeat("b", 11))},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 5 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 5}},
		{"backspace after a letter cannot clear", nil, []step{focusOn(winA), typed(panVisa + "x" + strings.Repeat("b", 30))},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"delete does not clear", nil, []step{focusOn(winA), typed(panVisa + "dddd")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"select-all then backspace clears", nil, []step{focusOn(winB), typed(panVisa + "xab")},
			View{}},
		{"select-all then delete clears", nil, []step{focusOn(winB), typed(panVisa + "ead")},
			View{}},
		{"select-all then typing replaces", nil, []step{focusOn(winB), typed(panVisa + "a12")},
			View{Digits: 2}},
		{"ctrl+a in a terminal is line start, not select-all", nil, []step{focusOn(winA), typed(panVisa + "ab")},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"clear-line clears in a terminal", nil, []step{focusOn(winA), typed(panVisa + "u")},
			View{}},
		{"windows console ignores ctrl+a and ctrl+u", nil, []step{focusOn(hooks.Window{ID: 9, Exe: "cmd.exe", Class: "ConsoleWindowClass", Bounds: winB.Bounds}), typed(panVisa + "abu")},
			View{Mask: true, Rect: winB.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"clear-line does not clear a text field", nil, []step{focusOn(winB), typed(panVisa + "u")},
			View{Mask: true, Rect: winB.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"focus change resets the run", nil, []step{focusOn(winA), typed("411"), focusOn(winB), typed("111")},
			View{Digits: 3}},
		{"short run is parked while focus is away", nil, []step{focusOn(winA), typed("4111 1"), focusOn(winB)},
			View{}},
		{"coming back resumes a parked run", nil, []step{focusOn(winA), typed("411"), focusOn(winB), focusOn(winA), typed("1")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"coming back to a parked run of mask_at digits masks before any key", nil, []step{focusOn(winA), typed("4111 1"), focusOn(winB), focusOn(winA)},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 5 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 5}},
		{"card typed across focus switches is confirmed", nil, []step{focusOn(winA), typed("4111 1"), focusOn(winB), focusOn(winA), typed("1"),
			focusOn(winB), focusOn(winA), typed("11 1111 1111")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"parked run stays with its field", nil, []step{focusField(winB, nameField), typed("41111"), focusField(winB, zipField), typed("1")},
			View{Digits: 1}},
		{"parked run resumes in its field", nil, []step{focusField(winB, nameField), typed("41111"), focusField(winB, zipField), typed("1"), focusField(winB, nameField), typed("1")},
			View{Mask: true, Rect: image.Rect(700, 116, 1000, 144), Label: "Hidden from recording · 6 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 6}},
		{"parked run resumes when the field is not known", nil, []step{focusField(winB, nameField), typed("411"), focusOn(winA), focusOn(winB), typed("1")},
			View{Mask: true, Rect: winB.Bounds, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"erasing a resumed card releases", nil, []step{focusOn(winB), typed(panVisa), focusOn(winA), focusOn(winB), typed(strings.Repeat("b", 16))},
			View{}},
		{"erasing a resumed card keeps other card data masked", nil, []step{focusField(winB, nameField), typed(panVisa), focusField(winB, zipField), typed(panMC + "t"),
			focusField(winB, nameField), typed(strings.Repeat("b", 16))},
			View{Mask: true, Rect: image.Rect(700, 116, 1000, 344), Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"closed window forgets its parked run", nil, []step{focusOn(winA), typed("41111"), focusOn(winB), move(winA, image.Rectangle{}), focusOn(winA), typed("1")},
			View{Digits: 1}},
		{"focus away keeps the pan window masked", nil, []step{focusOn(winA), typed(panVisa), focusOn(winB)},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"mask follows the window it protects", nil, []step{focusOn(winA), typed(panVisa), focusOn(winB), move(winA, image.Rect(200, 150, 800, 450))},
			View{Mask: true, Rect: image.Rect(200, 150, 800, 450), Label: LabelCard, Pause: true, Trigger: TriggerPAN, Field: DefaultField}},
		{"window gone releases", nil, []step{focusOn(winA), typed(panVisa), focusOn(winB), move(winA, image.Rectangle{})},
			View{}},
		{"coming back and clearing releases", nil, []step{focusOn(winB), typed(panVisa), focusOn(winA), focusOn(winB), typed("ab")},
			View{}},
		{"two windows masked together", nil, []step{focusOn(winA), typed(panVisa), focusOn(winB), typed(panMC)},
			View{Mask: true, Rect: winA.Bounds.Union(winB.Bounds), Label: "Hidden from recording · 16 digits · checksum OK", Pause: true, Trigger: TriggerPAN, Field: DefaultField, Digits: 16, Checksum: true}},
		{"excluded app ignores digits", nil, []step{focusOn(winP), typed(panVisa)},
			View{}},
		{"excluded app ignores paste", nil, []step{clip(true), focusOn(winP), typed("v")},
			View{}},
		{"keys before any focus cover the screen", nil, []step{typed("4111")},
			View{Mask: true, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"field rule by label masks on focus", nil, []step{focusField(winC, cardField)},
			View{Mask: true, Rect: cardMask, Label: LabelField, Pause: true, Trigger: TriggerFieldRule, Field: "crm_card"}},
		{"field rule label needs the field", nil, []step{focusField(winC, otherField)},
			View{Mask: true, Rect: image.Rect(50, 70, 410, 100), Label: LabelField, Pause: true, Trigger: TriggerFieldRule, Field: "crm_cvv_box"}},
		{"field rule by rect without a11y", nil, []step{focusOn(winC)},
			View{Mask: true, Rect: image.Rect(50, 70, 410, 100), Label: LabelField, Pause: true, Trigger: TriggerFieldRule, Field: "crm_cvv_box"}},
		{"field rule left empty releases", nil, []step{focusField(winC, cardField), focusOn(winB)},
			View{}},
		{"field rule left with a value stays", nil, []step{focusField(winC, cardField), typed("123"), focusOn(winB)},
			View{Mask: true, Rect: cardMask, Label: LabelCard, Pause: true, Trigger: TriggerFieldRule, Field: "crm_card"}},
		{"field rule counts digits", nil, []step{focusField(winC, cardField), typed("41")},
			View{Mask: true, Rect: cardMask, Label: "Hidden from recording · 2 digits", Pause: true, Trigger: TriggerFieldRule, Field: "crm_card", Digits: 2}},
		{"paste of a pan", nil, []step{clip(true), focusOn(winB), typed("v")},
			View{Mask: true, Rect: winB.Bounds, Label: LabelPasted, Pause: true, Trigger: TriggerPaste, Field: DefaultField}},
		{"middle-click paste of a pan", nil, []step{clip(true), focusOn(winB), typed("m")},
			View{Mask: true, Rect: winB.Bounds, Label: LabelPasted, Pause: true, Trigger: TriggerPaste, Field: DefaultField}},
		{"paste of other text", nil, []step{clip(false), focusOn(winB), typed("v")},
			View{}},
		{"title change keeps the run", nil, []step{focusOn(winA), typed("411"), retitle(winA, "vim"), typed("1")},
			View{Mask: true, Rect: winA.Bounds, Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
		{"title change into a rule masks the window", nil, []step{focusOn(winA), typed("12"), retitle(winA, "PAYMENT entry")},
			View{Mask: true, Rect: winA.Bounds, Label: LabelField, Pause: true, Trigger: TriggerFieldRule, Field: "term_pay"}},
		{"title change out of a rule keeps what was typed masked", nil, []step{retitle(winA, "PAYMENT entry"), typed("12"), retitle(winA, "shell")},
			View{Mask: true, Rect: winA.Bounds, Label: LabelCard, Pause: true, Trigger: TriggerFieldRule, Field: "term_pay"}},
		{"title change out of an empty rule releases", nil, []step{retitle(winA, "PAYMENT entry"), retitle(winA, "shell")},
			View{}},
		{"field bounds used for runs", nil, []step{focusField(winB, hooks.Field{Role: "text", Bounds: image.Rect(710, 120, 900, 140)}), typed("4111")},
			View{Mask: true, Rect: image.Rect(700, 116, 1000, 144), Label: "Hidden from recording · 4 digits", Trigger: TriggerThreshold, Field: DefaultField, Digits: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				c := *tt.cfg
				c.Exclude, c.Fields = cfg.Exclude, cfg.Fields
				cfg = c
			}
			got := run(NewDetector(cfg), tt.steps)
			got.Brand = card.BrandNone
			anchor, rel := got.Anchor, got.AnchorRel
			got.Anchor, got.AnchorRel = 0, image.Rectangle{}
			if got != tt.want {
				t.Errorf("view mismatch\n got  %+v\n want %+v", got, tt.want)
			}
			// The anchor, when there is one, is a window of the script and the mask relative
			// to its latest bounds (TestViewAnchor says when there must be one).
			if anchor != 0 {
				bounds := map[uint64]image.Rectangle{}
				for _, s := range tt.steps {
					switch {
					case s.focus != nil:
						bounds[s.focus.Window.ID] = s.focus.Window.Bounds
					case s.moved != nil:
						bounds[s.moved.ID] = s.moved.Bounds
					}
				}
				b, ok := bounds[anchor]
				if !ok || rel.Add(b.Min) != got.Rect {
					t.Errorf("anchor %#x rel %v: not the mask %v in a window of the script %v", anchor, rel, got.Rect, bounds)
				}
			}
		})
	}
}

// TestViewAnchor: a mask that lies in one window of known bounds is anchored to it, relative
// to its origin, so the overlay can pin it there; one spanning windows, or of unknown area,
// is not.
func TestViewAnchor(t *testing.T) {
	noBounds := winA
	noBounds.Bounds = image.Rectangle{}
	field := hooks.Field{Role: "text", Bounds: image.Rect(710, 120, 900, 140)}
	tests := []struct {
		name   string
		steps  []step
		anchor uint64
		rel    image.Rectangle
	}{
		{"nothing masked", []step{focusOn(winA), typed("411")}, 0, image.Rectangle{}},
		{"a run in one window", []step{focusOn(winA), typed("4111")}, winA.ID, image.Rect(0, 0, 500, 300)},
		{"a run in a known field", []step{focusField(winB, field), typed("4111")}, winB.ID, image.Rect(0, 16, 300, 44)},
		{"followed when the window moves", []step{focusOn(winA), typed("4111"), move(winA, image.Rect(300, 300, 800, 600))},
			winA.ID, image.Rect(0, 0, 500, 300)},
		{"a card left in one window, focus elsewhere", []step{focusOn(winA), typed(panVisa), focusOn(winB)}, winA.ID, image.Rect(0, 0, 500, 300)},
		{"cards in two windows", []step{focusOn(winA), typed(panVisa), focusOn(winB), typed(panMC)}, 0, image.Rectangle{}},
		{"unknown bounds", []step{focusOn(noBounds), typed("4111")}, 0, image.Rectangle{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := run(NewDetector(testConfig()), tt.steps)
			if v.Anchor != tt.anchor || v.AnchorRel != tt.rel {
				t.Errorf("anchor %#x rel %v, want %#x %v (mask %v)", v.Anchor, v.AnchorRel, tt.anchor, tt.rel, v.Rect)
			}
			if v.Anchor != 0 && !v.Mask {
				t.Error("anchored without a mask")
			}
		})
	}
}

// TestMaskBeforeSeventh is the detector's half of invariant 2: in every non-excluded window,
// whatever came before, the mask is wanted once a run holds mask_at digits - so never
// later than the 6th.
func TestReadable(t *testing.T) {
	win := image.Pt(800, 600)
	tests := []struct {
		name string
		in   image.Rectangle
		want image.Rectangle
	}{
		{"big enough", image.Rect(10, 10, 500, 60), image.Rect(10, 10, 500, 60)},
		{"narrow grows both ways", image.Rect(300, 100, 400, 130), image.Rect(170, 100, 530, 130)},
		{"at the left edge shifts right", image.Rect(0, 100, 100, 130), image.Rect(0, 100, 360, 130)},
		{"at the right edge shifts left", image.Rect(750, 100, 800, 130), image.Rect(440, 100, 800, 130)},
		{"short grows", image.Rect(10, 100, 400, 110), image.Rect(10, 91, 400, 119)},
		{"window too small keeps inside", image.Rect(5, 5, 20, 15), image.Rect(0, 0, 200, 28)},
	}
	for _, tt := range tests {
		w := win
		if tt.name == "window too small keeps inside" {
			w = image.Pt(200, 100)
		}
		if got := readable(tt.in, w); got != tt.want {
			t.Errorf("%s: readable(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
		if got := readable(tt.in, w); !tt.in.Intersect(image.Rectangle{Max: w}).In(got) {
			t.Errorf("%s: %v does not cover the field %v", tt.name, got, tt.in)
		}
	}
}

func TestMaskBeforeSeventh(t *testing.T) {
	prefixes := []string{"", "x", "12x", "4111 ", "ab", "e", "1234567x", panVisa + "u", "v", "bbb"}
	for maskAt := 1; maskAt <= MaxMaskAt; maskAt++ {
		for _, p := range prefixes {
			d := NewDetector(Config{MaskAt: maskAt})
			run(d, []step{focusOn(winB), typed(p)})
			var v View
			for i, k := range keys("5500 0055") {
				v = d.Key(k)
				if d.nd >= maskAt && !v.Mask {
					t.Fatalf("mask_at %d, prefix %q: key %d left %d digits unmasked", maskAt, p, i, d.nd)
				}
			}
			if !v.Mask {
				t.Fatalf("mask_at %d, prefix %q: 8 digits unmasked", maskAt, p)
			}
		}
	}
}

// TestMaskBeforeSeventhAcrossFocus types a card into one window with the focus taken away
// and given back at every pair of points in it: whenever the field holds mask_at digits and
// has the focus, the mask must be wanted.
func TestMaskBeforeSeventhAcrossFocus(t *testing.T) {
	const number = "4111 1111 1111 1111"
	for i := 1; i < len(number); i++ {
		for j := i; j < len(number); j++ {
			d := NewDetector(Config{})
			run(d, []step{focusOn(winA)})
			inField := 0
			for n, k := range keys(number) {
				if n == i || n == j {
					run(d, []step{focusOn(winB), focusOn(winA)})
				}
				v := d.Key(k)
				if k.Code == hooks.KeyDigit {
					inField++
				}
				if inField >= DefaultMaskAt && !v.Mask {
					t.Fatalf("focus away before keys %d and %d: %d digits in the field, no mask", i, j, inField)
				}
			}
			if v := d.View(); !v.Checksum || !v.Pause {
				t.Fatalf("focus away before keys %d and %d: the card was not confirmed: %+v", i, j, v)
			}
		}
	}
}

// TestParkedRunsBounded fills every window slot with parked runs and then card data: a
// window holding more than six digits always wins a slot over a parked run.
func TestParkedRunsBounded(t *testing.T) {
	d := NewDetector(Config{})
	for id := uint64(1); id <= 2*maxEntries; id++ {
		w := winB
		w.ID = id
		run(d, []step{focusOn(w), typed("411")})
	}
	w := winB
	w.ID = 100
	v := run(d, []step{focusOn(w), typed(panVisa), focusOn(winA)})
	if !v.Mask || !v.Pause {
		t.Fatalf("a card number lost its mask to parked runs: %+v", v)
	}
}

func TestDetectorWipesRun(t *testing.T) {
	d := NewDetector(Config{})
	run(d, []step{focusOn(winA), typed(panVisa + "x")})
	for i, c := range d.chars {
		if c != 0 || d.digs[i] != 0 {
			t.Fatalf("run buffer not wiped at %d", i)
		}
	}
	run(d, []step{typed("411"), focusOn(winB)})
	if d.nd != 0 || d.digs != [maxRunChars]byte{} {
		t.Fatal("run buffer not wiped on focus change")
	}
	parked := func() bool {
		for i := range d.parks {
			if p := d.parks[i]; p.ln != 0 || p.digs != [maxRunChars]byte{} || p.chars != [maxRunChars]byte{} {
				return true
			}
		}
		return false
	}
	if !parked() {
		t.Fatal("the run left by the focus change was not parked")
	}
	run(d, []step{focusOn(winA)})
	if parked() || d.nd != 3 {
		t.Fatalf("parked run not moved back into the live run (%d digits live)", d.nd)
	}
	run(d, []step{typed("bbb"), focusOn(winB)})
	if parked() {
		t.Fatal("an erased run left digits parked")
	}
	run(d, []step{focusOn(winA), typed("41"), focusOn(winB), move(winA, image.Rectangle{})})
	if parked() {
		t.Fatal("parked run not wiped when its window closed")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error, "" for none
	}{
		{"zero is fine", Config{}, ""},
		{"mask_at 7", Config{MaskAt: 7}, "detect.mask_at: 7"},
		{"pause_on bad", Config{PauseOn: "always"}, `detect.pause_on: "always"`},
		{"hold_down negative", Config{HoldDown: -time.Second}, "detect.hold_down"},
		{"empty exclude", Config{Exclude: []AppMatch{{}}}, "detect.exclude[0]"},
		{"field without app", Config{Fields: []FieldRule{{Name: "x"}}}, `detect.field "x": app`},
		{"field without name", Config{Fields: []FieldRule{{App: AppMatch{Exe: MustPattern("a")}}}}, "detect.field[0]: name"},
		{"bad rect", Config{Fields: []FieldRule{{Name: "r", App: AppMatch{Exe: MustPattern("a")}, Rect: [4]int{0, 0, -1, 5}}}}, `detect.field "r": rect`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPatternText(t *testing.T) {
	var p Pattern
	if err := p.UnmarshalText([]byte("x(term")); err == nil || !strings.Contains(err.Error(), `pattern "x(term"`) {
		t.Fatalf("bad pattern error = %v", err)
	}
	if err := p.UnmarshalText([]byte("x.*")); err != nil {
		t.Fatal(err)
	}
	if !p.match("XTerm") || p.match("uxterm") {
		t.Fatal("pattern must be anchored and case-insensitive")
	}
	if b, _ := p.MarshalText(); string(b) != "x.*" {
		t.Fatalf("MarshalText = %q", b)
	}
}

// The only card numbers tests may use: well-known test PANs.
const (
	panVisa = "4111111111111111"
	panMC   = "5500005555555559"
	panAmex = "340000000000009"
)
