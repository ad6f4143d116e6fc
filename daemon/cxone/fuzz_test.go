package cxone_test

import (
	"strings"
	"testing"
	"time"

	"pcipause/daemon/cxone"
)

// The response decoders must turn any body into a value or a clear error, never a panic, and
// their errors must never quote long digit runs from the body.

func checkErr(t *testing.T, err error) {
	if err != nil && strings.Contains(err.Error(), "1111111") {
		t.Fatalf("error quotes digits from the body: %v", err)
	}
}

func FuzzDecodeRecording(f *testing.F) {
	for _, s := range []string{
		`{"id":"rec-1","agentId":"a","interactionId":"i","status":"RECORDING","startedAt":"2023-10-27T14:32:01.123Z"}`,
		`{"id":"rec-1","status":"PAUSED"}`, `{"status":"ENDED"}`, `{"status":"4111111111111111"}`,
		`{"status":1}`, `[]`, `null`, ``, `{"id":`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := cxone.DecodeRecording(b)
		checkErr(t, err)
		if err == nil && r.Status != cxone.StatusRecording && r.Status != cxone.StatusPaused && r.Status != cxone.StatusEnded {
			t.Fatalf("accepted status %q", r.Status)
		}
	})
}

func FuzzDecodeRecordingList(f *testing.F) {
	for _, s := range []string{
		`{"recordings":[{"id":"rec-1","agentId":"a","interactionId":"i","status":"RECORDING","startedAt":"2023-10-27T14:32:01.123Z"}]}`,
		`{"recordings":[]}`, `{"recordings":null}`, `{}`, `{"recordings":[{"id":"","status":"PAUSED"}]}`,
		`{"recordings":[{"id":"x","status":"4111111111111111"}]}`, `{"recordings":"x"}`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := cxone.DecodeRecordingList(b)
		checkErr(t, err)
		for _, r := range l {
			if r.ID == "" {
				t.Fatal("accepted an entry without id")
			}
		}
	})
}

func FuzzDecodeMaskStatus(f *testing.F) {
	for _, s := range []string{
		`{"userId":"u","contactId":"c","recordingStatus":"Recording","statusReason":"Mask","processing":false}`,
		`{"statusReason":""}`, `{"statusReason":"Other"}`, `{"processing":"yes"}`, `{}`, ``, `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := cxone.DecodeMaskStatus(b)
		checkErr(t, err)
		if err == nil && m.StatusReason != "" && m.StatusReason != "Mask" {
			t.Fatalf("accepted statusReason %q", m.StatusReason)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := cxone.ParseRetryAfter(s, now); d < 0 || d > 10*time.Minute {
			t.Fatalf("ParseRetryAfter(%q) = %s out of [0,10m]", s, d)
		}
	})
}
