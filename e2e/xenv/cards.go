package xenv

// TestCard is a well-known test card number. These four are the only card data the e2e
// tests, `make demo` and `make bench` ever type; their output must never hold them.
type TestCard struct{ Brand, PAN string }

// TestCards lists them, one per brand.
var TestCards = []TestCard{
	{"visa", "4111111111111111"},
	{"mastercard", "5500005555555559"},
	{"amex", "340000000000009"},
	{"discover", "6011000990139424"},
}

// IsTestPAN reports whether pan is one of TestCards.
func IsTestPAN(pan string) bool {
	for _, c := range TestCards {
		if c.PAN == pan {
			return true
		}
	}
	return false
}
