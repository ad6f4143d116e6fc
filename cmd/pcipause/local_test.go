package main

import (
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi time.Duration
		bad    bool
	}{
		{"", 0, 0, false},
		{"250ms", 250 * time.Millisecond, 250 * time.Millisecond, false},
		{"150ms-400ms", 150 * time.Millisecond, 400 * time.Millisecond, false},
		{"400ms-150ms", 0, 0, true},
		{"fast", 0, 0, true},
		{"150ms-", 0, 0, true},
		{"-5ms", 0, 0, true},
	}
	for _, tt := range tests {
		lo, hi, err := parseLatency(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("parseLatency(%q) = %s, %s; want an error", tt.in, lo, hi)
			}
			continue
		}
		if err != nil || lo != tt.lo || hi != tt.hi {
			t.Errorf("parseLatency(%q) = %s, %s, %v; want %s, %s", tt.in, lo, hi, err, tt.lo, tt.hi)
		}
	}
}
