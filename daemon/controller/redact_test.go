package controller

import (
	"strings"
	"testing"
)

var testPANs = []string{"4111111111111111", "5500005555555559", "340000000000009", "6011000990139424"}

func TestScrubText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"credit_card_number", "credit_card_number"},
		{"PCI-DSS-Req-3.4", "PCI-DSS-Req-3.4"},
		{"cvv 123", "cvv 123"},
		{"card 4111111111111111 typed", "card " + redacted + " typed"},
		{"4111 1111 1111 1111", redacted},
		{"5500-0055-5555-5559!", redacted + "!"},
		{"ab1234567cd", "ab" + redacted + "cd"},
		{"123456 7", redacted},
		{"12-34", "12-34"},
		{"4111  1111  1111  1111", redacted},
		{"1234    5678", "1234    5678"},
	}
	for _, tt := range tests {
		if got := scrubText(tt.in); got != tt.want {
			t.Errorf("scrubText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHoldsPAN(t *testing.T) {
	for _, p := range testPANs {
		for _, s := range []string{p, "ep-" + p, "x" + p[:4] + " " + p[4:8] + "-" + p[8:] + "y"} {
			if !holdsPAN(s) {
				t.Errorf("holdsPAN(%q) = false", s)
			}
		}
	}
	for _, s := range []string{"", "agent-42", "1234567890123", "contact-5829301947", "4111111111111112"} {
		if holdsPAN(s) {
			t.Errorf("holdsPAN(%q) = true", s)
		}
	}
}

func FuzzScrubText(f *testing.F) {
	for _, p := range testPANs {
		f.Add("field " + p)
	}
	f.Add("")
	f.Add("1-2-3-4-5-6-7")
	f.Fuzz(func(t *testing.T, s string) {
		out := scrubText(s)
		run, seps := 0, 0
		for i := 0; i < len(out); i++ {
			switch ch := out[i]; {
			case ch >= '0' && ch <= '9':
				run, seps = run+1, 0
				if run >= 7 {
					t.Fatalf("scrubText(%q) = %q keeps a 7-digit run", s, out)
				}
			case (ch == ' ' || ch == '-') && run > 0 && seps < maxSep:
				seps++
			default:
				run, seps = 0, 0
			}
		}
		if holdsPAN(out) {
			t.Fatalf("scrubText(%q) = %q still holds a PAN", s, out)
		}
		if !strings.Contains(s, redacted) && strings.Contains(out, redacted) == (out == s) {
			t.Fatalf("scrubText(%q) = %q: redaction marker inconsistent", s, out)
		}
	})
}
