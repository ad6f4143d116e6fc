package card

import (
	"strings"
	"testing"
)

// The only card numbers tests may use: well-known test PANs.
const (
	panVisa     = "4111111111111111"
	panMC       = "5500005555555559"
	panAmex     = "340000000000009"
	panDiscover = "6011000990139424"
)

func vals(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		if c >= '0' && c <= '9' {
			b = append(b, c-'0')
		}
	}
	return b
}

func TestIsPAN(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		brand Brand
		ok    bool
	}{
		{"visa", panVisa, BrandVisa, true},
		{"mastercard", panMC, BrandMastercard, true},
		{"amex", panAmex, BrandAmex, true},
		{"discover", panDiscover, BrandDiscover, true},
		{"visa bad check digit", "4111111111111112", BrandNone, false},
		{"amex length 16", "3400000000000009", BrandNone, false},
		{"too short", "411111111111", BrandNone, false},
		{"too long", panVisa + "0000", BrandNone, false},
		{"unknown prefix", "9111111111111111", BrandNone, false},
		{"empty", "", BrandNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := IsPAN(vals(tt.in))
			if b != tt.brand || ok != tt.ok {
				t.Errorf("IsPAN = %v, %v; want %v, %v", b, ok, tt.brand, tt.ok)
			}
		})
	}
}

// brandOf is checked on digit strings that fail Luhn, so no real-looking PAN is written here.
func TestBrandRanges(t *testing.T) {
	tests := []struct {
		in   string
		want Brand
	}{
		{"4000000000000", BrandVisa},
		{"4000000000000000000", BrandVisa},
		{"40000000000000", BrandNone},
		{"5100000000000000", BrandMastercard},
		{"5500000000000000", BrandMastercard},
		{"5600000000000000", BrandNone},
		{"2221000000000000", BrandMastercard},
		{"2720000000000000", BrandMastercard},
		{"2721000000000000", BrandNone},
		{"370000000000000", BrandAmex},
		{"6011000000000000", BrandDiscover},
		{"6440000000000000", BrandDiscover},
		{"6500000000000000000", BrandDiscover},
		{"6221260000000000", BrandDiscover},
		{"3528000000000000", BrandJCB},
		{"3589000000000000000", BrandJCB},
		{"30000000000000", BrandDiners},
		{"36000000000000", BrandDiners},
		{"3095000000000000", BrandDiners},
		{"6200000000000000", BrandUnionPay},
		{"6299000000000000000", BrandUnionPay},
	}
	for _, tt := range tests {
		if got := brandOf(vals(tt.in)); got != tt.want {
			t.Errorf("brandOf(%d digits, prefix %s) = %v, want %v", len(tt.in), tt.in[:4], got, tt.want)
		}
	}
}

func TestContainsPAN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"plain", panVisa, true},
		{"grouped spaces", "4111 1111 1111 1111", true},
		{"grouped dashes", "card: 5500-0055-5555-5559.", true},
		{"amex grouping", "3400 000000 00009", true},
		{"inside text", "order 12 " + panDiscover + " thanks", true},
		{"trailing newline", panVisa + "\n", true},
		{"bad check digit", "4111111111111112", false},
		{"phone number", "+1 555-123-4567", false},
		{"double separator breaks", "4111  1111 1111 1111", false},
		{"letters between", "4111a1111b1111c1111", false},
		{"empty", "", false},
		{"long digits", strings.Repeat("9", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainsPAN([]byte(tt.in)); got != tt.want {
				t.Errorf("ContainsPAN = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzContainsPAN(f *testing.F) {
	for _, s := range []string{panVisa, "4111 1111 1111 1111", "x-5500-0055-5555-5559", "", "12 34", strings.Repeat("1 ", 50)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := ContainsPAN(b)
		// Removing every separator-free digit cannot create a PAN out of nothing.
		if !got {
			return
		}
		digits := 0
		for _, c := range b {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if digits < 13 {
			t.Fatalf("ContainsPAN true with only %d digits", digits)
		}
	})
}
