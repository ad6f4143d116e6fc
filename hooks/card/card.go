// Package card recognises payment card numbers: Luhn check, scheme by IIN range and length,
// and card numbers inside text, without keeping the digits.
package card

// Brand is a card scheme recognised from the leading digits (IIN) and the length of a PAN.
type Brand uint8

const (
	BrandNone Brand = iota
	BrandVisa
	BrandMastercard
	BrandAmex
	BrandDiscover
	BrandJCB
	BrandDiners
	BrandUnionPay
)

var brandNames = [...]string{"none", "visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay"}

func (b Brand) String() string {
	if int(b) < len(brandNames) {
		return brandNames[b]
	}
	return "unknown"
}

// prefix returns the first k digits of d (values 0-9) as a number.
func prefix(d []byte, k int) int {
	n := 0
	for i := 0; i < k && i < len(d); i++ {
		n = n*10 + int(d[i])
	}
	return n
}

// brandOf names the scheme of the digit values d (0-9 each, not ASCII) by IIN range and
// length, or BrandNone. It does not check the Luhn digit.
func brandOf(d []byte) Brand {
	n := len(d)
	if n < 13 || n > 19 {
		return BrandNone
	}
	p1, p2, p3, p4, p6 := prefix(d, 1), prefix(d, 2), prefix(d, 3), prefix(d, 4), prefix(d, 6)
	switch {
	case p1 == 4 && (n == 13 || n == 16 || n == 19):
		return BrandVisa
	case (p2 >= 51 && p2 <= 55 || p4 >= 2221 && p4 <= 2720) && n == 16:
		return BrandMastercard
	case (p2 == 34 || p2 == 37) && n == 15:
		return BrandAmex
	case (p4 == 6011 || p3 >= 644 && p3 <= 649 || p2 == 65 || p6 >= 622126 && p6 <= 622925) && n >= 16:
		return BrandDiscover
	case p4 >= 3528 && p4 <= 3589 && n >= 16:
		return BrandJCB
	case (p3 >= 300 && p3 <= 305 || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14:
		return BrandDiners
	case p2 == 62 && n >= 16:
		return BrandUnionPay
	}
	return BrandNone
}

// luhn reports whether the digit values d pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	if len(d) == 0 {
		return false
	}
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// IsPAN reports whether the digit values d (0-9 each) form a Luhn-valid card number of a
// known brand, and which.
func IsPAN(d []byte) (Brand, bool) {
	b := brandOf(d)
	if b == BrandNone || !luhn(d) {
		return BrandNone, false
	}
	return b, true
}

// maxTextRun bounds how many digits of one run ContainsPAN looks at.
const maxTextRun = 64

// ContainsPAN reports whether text holds a Luhn-valid card number of a known brand, written
// as 13-19 digits with single spaces or dashes between them (as agents and web pages group
// them). It is how clipboard text is classified before the bytes are wiped; it keeps no copy
// beyond a fixed stack buffer, which it clears.
func ContainsPAN(text []byte) bool {
	var run [maxTextRun]byte
	n := 0
	found := false
	sep := false
	flush := func() {
		for start := 0; start+13 <= n && !found; start++ {
			for l := 13; l <= 19 && start+l <= n; l++ {
				if _, ok := IsPAN(run[start : start+l]); ok {
					found = true
					break
				}
			}
		}
		n = 0
	}
	for _, c := range text {
		switch {
		case c >= '0' && c <= '9':
			if n < maxTextRun {
				run[n] = c - '0'
				n++
			}
			sep = false
		case (c == ' ' || c == '-') && n > 0 && !sep:
			sep = true
		default:
			flush()
			sep = false
		}
		if found {
			break
		}
	}
	if !found {
		flush()
	}
	clear(run[:])
	return found
}
