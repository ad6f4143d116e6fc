package cxonesim

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeChange: the simulator's pause/resume body check never panics, never accepts a
// body holding a card-length digit run, and accepts only what it documents.
func FuzzDecodeChange(f *testing.F) {
	f.Add("pause", []byte(`{"reason":"PCI_DATA_DETECTED","metadata":{"pciField":"credit_card_number","detectionTimestamp":"2023-10-27T14:32:01.123Z","complianceRule":"PCI-DSS-Req-3.4"}}`))
	f.Add("resume", []byte(`{"reason":"PCI_DATA_CLEARED","metadata":{"clearTimestamp":"2023-10-27T14:32:05.456Z"}}`))
	f.Add("pause", []byte(`{"reason":"X","metadata":{"detectionTimestamp":"4111111111111111"}}`))
	f.Add("resume", []byte(`{"reason":"","metadata":null}`))
	f.Add("pause", []byte(`{`))
	f.Add("pause", []byte(`{"1111111":1}`)) // CI's fuzz run: an unknown field's name was quoted back
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if op != "pause" {
			op = "resume"
		}
		r := httptest.NewRequest("PUT", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var c Call
		b, err := decodeChange(r, op, &c)
		if err != nil {
			if strings.Contains(err.Error(), "1111111") {
				t.Fatalf("error echoes digits: %v", err)
			}
			return
		}
		if digitRunRE.Match(body) {
			t.Fatal("accepted a body with a card-length digit run")
		}
		if !reasonRE.MatchString(b.Reason) || b.Metadata == nil {
			t.Fatalf("accepted reason %q metadata %v", b.Reason, b.Metadata)
		}
		ts := b.Metadata.DetectionTimestamp
		if op == "resume" {
			ts = b.Metadata.ClearTimestamp
		}
		if _, err := time.Parse(timeLayout, ts); err != nil {
			t.Fatalf("accepted timestamp %q", ts)
		}
	})
}
