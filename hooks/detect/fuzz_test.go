package detect

import (
	"image"
	"strings"
	"testing"

	"pcipause/hooks"
)

// FuzzDetector decodes bytes into an event stream (focus, moves, clipboard, keys) and checks
// the invariants after every event: no panic, a run of mask_at digits is always masked, the
// label never carries more than a count, and a pause is always masked.
func FuzzDetector(f *testing.F) {
	f.Add([]byte("\x00\x014111111111111111"))
	f.Add([]byte("\x00\x03\x02v1234x5678"))
	f.Add([]byte("\x00\x02" + "5500 0055 5555 5559" + "\x00\x01bbbbbbbbb\x01\x00"))
	f.Add([]byte("ab12\x00\x04u3400000000000009e"))
	f.Add([]byte("\x00\x004111 1\x00\x01\x00\x001\x00\x01\x00\x0011 1111 1111bbbb\x00\x01\x01\x80"))
	windows := []hooks.Window{winA, winB, winP, winC, {ID: 0xe}}
	fields := []hooks.Field{{}, {Label: "Card number", Bounds: image.Rect(150, 200, 450, 230)}}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDetector(testConfig())
		for i := 0; i < len(b); i++ {
			var v View
			c := b[i]
			switch {
			case c == 0 && i+1 < len(b): // focus
				i++
				v = d.Focus(hooks.Focus{Window: windows[int(b[i])%len(windows)], Field: fields[int(b[i]>>4)%len(fields)]})
			case c == 1 && i+1 < len(b): // move or close a window
				i++
				w := windows[int(b[i])%len(windows)]
				if b[i]&0x80 != 0 {
					w.Bounds = image.Rectangle{}
				} else {
					w.Bounds = w.Bounds.Add(image.Pt(int(b[i]&0x7f), 3))
				}
				v = d.Moved(w)
			case c == 2:
				v = d.Clipboard(true)
			case c == 3:
				v = d.Clipboard(false)
			default:
				ks := keys(string(mapKey(c)))
				v = d.Key(ks[0])
			}
			if !d.excluded && d.nd >= d.cfg.MaskAt && !v.Mask {
				t.Fatalf("event %d: %d digits in a run and no mask", i, d.nd)
			}
			if v.Pause && !v.Mask {
				t.Fatalf("event %d: pause without mask", i)
			}
			if v.Mask && !strings.HasPrefix(v.Label, LabelPrefix) {
				t.Fatalf("event %d: label %q", i, v.Label)
			}
			if d.nd < 0 || d.nd > maxRunChars || d.ln < 0 || d.ln > maxRunChars {
				t.Fatalf("event %d: run counters out of range nd=%d ln=%d", i, d.nd, d.ln)
			}
		}
	})
}

// mapKey folds any byte onto the key script alphabet.
func mapKey(c byte) byte {
	const alphabet = "0123456789 -bdxetvmaus0123456789"
	return alphabet[int(c)%len(alphabet)]
}
