package controller

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// No input the controller stores, logs, audits or sends may carry card data, even when a
// caller mislabels a field. Free text loses every digit run long enough to be part of a PAN
// beyond what PCI DSS lets be displayed; identifiers that hold a Luhn-valid 13–19 digit run
// are replaced or refused, never echoed.

const redacted = "[digits removed]"

// digitRuns calls fn with the [start,end) byte span and digit count of each run of digits in
// s, where up to maxSep spaces or dashes between two digits continue the run.
func digitRuns(s string, fn func(start, end, digits int, ds []byte)) {
	var ds []byte
	start, end := -1, -1
	flush := func() {
		if start >= 0 {
			fn(start, end, len(ds), ds)
		}
		ds, start, end = ds[:0], -1, -1
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			if start < 0 {
				start = i
			}
			ds = append(ds, ch)
			end = i + 1
		case (ch == ' ' || ch == '-') && start >= 0 && sepThenDigit(s, i):
		default:
			flush()
		}
	}
	flush()
}

// maxSep is how many spaces or dashes in a row may sit between two digits of one run.
const maxSep = 3

// sepThenDigit reports whether s[i:] is at most maxSep separators followed by a digit.
func sepThenDigit(s string, i int) bool {
	for j := i; j < len(s) && j < i+maxSep; j++ {
		if c := s[j]; c >= '0' && c <= '9' {
			return true
		} else if c != ' ' && c != '-' {
			return false
		}
		if j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
			return true
		}
	}
	return false
}

// scrubText removes every run of 7 or more digits from free text.
func scrubText(s string) string {
	type span struct{ a, b int }
	var cut []span
	digitRuns(s, func(a, b, n int, _ []byte) {
		if n >= 7 {
			cut = append(cut, span{a, b})
		}
	})
	if len(cut) == 0 {
		return s
	}
	var sb strings.Builder
	last := 0
	for _, c := range cut {
		sb.WriteString(s[last:c.a])
		sb.WriteString(redacted)
		last = c.b
	}
	sb.WriteString(s[last:])
	return sb.String()
}

func luhn(ds []byte) bool {
	sum := 0
	double := false
	for i := len(ds) - 1; i >= 0; i-- {
		d := int(ds[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// holdsPAN reports a Luhn-valid run of 13 to 19 digits anywhere in s (the detector's
// definition of a confirmed PAN).
func holdsPAN(s string) bool {
	found := false
	digitRuns(s, func(_, _, n int, ds []byte) {
		if n >= 13 && n <= 19 && luhn(ds) {
			found = true
		}
	})
	return found
}

// episodeKey replaces an episode id that holds card data by a keyed digest, stable for the
// life of this controller so the matching Close still finds its Open.
func (c *Controller) episodeKey(ep string) string {
	if !holdsPAN(ep) {
		return ep
	}
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(ep))
	return "redacted-" + hex.EncodeToString(m.Sum(nil)[:12])
}
