package x11

import (
	"fmt"

	"github.com/jezek/xgb/xproto"
)

// Keysyms the hooks care about (keysymdef.h).
const (
	KeysymNumLock  = 0xff7f
	KeysymShiftL   = 0xffe1
	KeysymShiftR   = 0xffe2
	KeysymControlL = 0xffe3
	KeysymControlR = 0xffe4
	keypadFirst    = 0xff80 // KP_Space
	keypadLast     = 0xffbd // KP_Equal
)

// Keymap is the server's keyboard mapping: keysyms per keycode, one column per
// shift level and group.
type Keymap struct {
	min  byte
	per  int
	syms []xproto.Keysym
	// NumLockMask is the modifier bit NumLock is bound to (0 if none).
	NumLockMask uint16
}

// LoadKeymap reads the current keyboard and modifier mapping. Call it again on MappingNotify.
func (c *Conn) LoadKeymap() (*Keymap, error) {
	setup := xproto.Setup(c.X)
	min, max := setup.MinKeycode, setup.MaxKeycode
	r, err := xproto.GetKeyboardMapping(c.X, min, byte(max-min+1)).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11 keyboard mapping: %w", err)
	}
	k := &Keymap{min: byte(min), per: int(r.KeysymsPerKeycode), syms: r.Keysyms}
	mm, err := xproto.GetModifierMapping(c.X).Reply()
	if err != nil {
		return nil, fmt.Errorf("x11 modifier mapping: %w", err)
	}
	per := int(mm.KeycodesPerModifier)
	for mod := 0; mod < 8; mod++ {
		for i := 0; i < per; i++ {
			kc := mm.Keycodes[mod*per+i]
			if kc != 0 && k.Sym(byte(kc), 0) == KeysymNumLock {
				k.NumLockMask = 1 << mod
			}
		}
	}
	return k, nil
}

// Sym is the keysym in column col for keycode code, 0 (NoSymbol) if none.
func (k *Keymap) Sym(code byte, col int) xproto.Keysym {
	if k == nil || code < k.min || col >= k.per {
		return 0
	}
	i := int(code-k.min)*k.per + col
	if i >= len(k.syms) {
		return 0
	}
	return k.syms[i]
}

// IsKeypad reports whether s is a keypad keysym (KP_*).
func IsKeypad(s xproto.Keysym) bool { return s >= keypadFirst && s <= keypadLast }

// Lookup applies the core protocol's rules for group 1 (columns 0 and 1): with NumLock on
// and a keypad keysym in column 1, Shift inverts the choice; otherwise Shift picks column 1.
// A layout whose digits need Shift (AZERTY) or a keypad with NumLock is therefore read right,
// which column 0 alone would miss.
func (k *Keymap) Lookup(code byte, shift, numLock bool) xproto.Keysym {
	s0, s1 := k.Sym(code, 0), k.Sym(code, 1)
	if s1 == 0 {
		s1 = s0
	}
	if numLock && IsKeypad(s1) {
		if shift {
			return s0
		}
		return s1
	}
	if shift {
		return s1
	}
	return s0
}
