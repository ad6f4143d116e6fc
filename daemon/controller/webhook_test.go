package controller

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
)

func TestWebhookHandler(t *testing.T) {
	secret := []byte("hook-secret")
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	good := []byte(`{"event":"screen-recording.ended","screenRecordingId":"rec-1","interactionId":"i","agentId":"a","endedAt":"2026-03-04T05:06:00.000Z"}`)
	sign := func(body []byte, at time.Time) (string, string) { return cxonesim.Sign(secret, at, body) }
	tests := []struct {
		name   string
		method string
		body   []byte
		at     time.Time
		sig    func(ts, sig string) (string, string)
		want   int
		ended  bool
	}{
		{"good", "POST", good, now, nil, http.StatusNoContent, true},
		{"wrong method", "GET", good, now, nil, http.StatusMethodNotAllowed, false},
		{"bad signature", "POST", good, now, func(ts, _ string) (string, string) { return ts, "sha256=00" }, http.StatusUnauthorized, false},
		{"no signature", "POST", good, now, func(ts, _ string) (string, string) { return ts, "" }, http.StatusUnauthorized, false},
		{"signature of another body", "POST", good, now, func(ts, _ string) (string, string) {
			_, s := sign([]byte(`{}`), now)
			return ts, s
		}, http.StatusUnauthorized, false},
		{"too old", "POST", good, now.Add(-10 * time.Minute), nil, http.StatusUnauthorized, false},
		{"from the future", "POST", good, now.Add(10 * time.Minute), nil, http.StatusUnauthorized, false},
		{"bad timestamp", "POST", good, now, func(_, s string) (string, string) { return "yesterday", s }, http.StatusUnauthorized, false},
		{"too large", "POST", append(good, bytes.Repeat([]byte(" "), 20<<10)...), now, nil, http.StatusRequestEntityTooLarge, false},
		{"other event", "POST", []byte(`{"event":"screen-recording.started","screenRecordingId":"rec-1"}`), now, nil, http.StatusBadRequest, false},
		{"unknown field", "POST", []byte(`{"event":"screen-recording.ended","screenRecordingId":"rec-1","x":1}`), now, nil, http.StatusBadRequest, false},
		{"not json", "POST", []byte(`not json`), now, nil, http.StatusBadRequest, false},
		{"empty id", "POST", []byte(`{"event":"screen-recording.ended","screenRecordingId":""}`), now, nil, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newFake()
			be.add("a", "i", "rec-1")
			h := newHarness(t, be, fastConfig())
			if err := h.c.Refresh(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			hd := h.c.WebhookHandler(WebhookOptions{Secret: secret, Now: func() time.Time { return now }})
			ts, sig := sign(tt.body, tt.at)
			if tt.sig != nil {
				ts, sig = tt.sig(ts, sig)
			}
			req := httptest.NewRequest(tt.method, "/hook", bytes.NewReader(tt.body))
			req.Header.Set(WebhookHeaderTimestamp, ts)
			req.Header.Set(WebhookHeaderSignature, sig)
			rec := httptest.NewRecorder()
			hd.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			}
			if ended := len(h.c.Snapshot().Targets) == 0; ended != tt.ended {
				t.Errorf("recording forgotten = %v, want %v", ended, tt.ended)
			}
		})
	}
	t.Run("no secret configured", func(t *testing.T) {
		h := newHarness(t, newFake(), fastConfig())
		rec := httptest.NewRecorder()
		h.c.WebhookHandler(WebhookOptions{}).ServeHTTP(rec, httptest.NewRequest("POST", "/", bytes.NewReader(good)))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d without a secret", rec.Code)
		}
	})
}

func FuzzDecodeEndedEvent(f *testing.F) {
	f.Add([]byte(`{"event":"screen-recording.ended","screenRecordingId":"rec-1","interactionId":"i","agentId":"a","endedAt":"2026-03-04T05:06:00.000Z"}`))
	f.Add([]byte(`{"event":"screen-recording.ended","screenRecordingId":"` + strconv.Itoa(1<<30) + `"}{}`))
	f.Add([]byte(`{"event":1}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEndedEvent(b)
		if err != nil {
			return
		}
		if ev.Event != EventRecordingEnded || ev.RecordingID == "" {
			t.Fatalf("accepted %+v", ev)
		}
	})
}

var _ = cxone.BackendWEMv1
