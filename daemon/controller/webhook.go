package controller

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook headers and event name of CXone's screen-recording.ended webhook.
const (
	WebhookHeaderTimestamp = "X-CXone-Timestamp"
	WebhookHeaderSignature = "X-CXone-Signature"
	EventRecordingEnded    = "screen-recording.ended"
)

// WebhookOptions configure the ended-webhook receiver. The receiver is off unless the service
// mounts it; polling runs either way.
type WebhookOptions struct {
	Secret       []byte        // HMAC-SHA256 key shared with CXone; required
	ReplayWindow time.Duration // timestamps further than this from now are refused (5m)
	MaxBody      int64         // larger bodies are refused (16 KiB)
	Now          func() time.Time
}

// EndedEvent is the webhook body.
type EndedEvent struct {
	Event         string `json:"event"`
	RecordingID   string `json:"screenRecordingId"`
	InteractionID string `json:"interactionId,omitempty"`
	AgentID       string `json:"agentId,omitempty"`
	EndedAt       string `json:"endedAt,omitempty"`
}

// DecodeEndedEvent strictly decodes and checks one webhook body.
func DecodeEndedEvent(b []byte) (EndedEvent, error) {
	var ev EndedEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return EndedEvent{}, fmt.Errorf("webhook body: %w", err)
	}
	if dec.More() {
		return EndedEvent{}, errors.New("webhook body: trailing data after the JSON object")
	}
	if ev.Event != EventRecordingEnded {
		return EndedEvent{}, fmt.Errorf("webhook body: event is not %s", EventRecordingEnded)
	}
	if err := checkID("screenRecordingId", ev.RecordingID); err != nil {
		return EndedEvent{}, fmt.Errorf("webhook body: %w", err)
	}
	if ev.EndedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, ev.EndedAt); err != nil {
			return EndedEvent{}, errors.New("webhook body: endedAt is not an RFC 3339 time")
		}
	}
	return ev, nil
}

// WebhookHandler receives screen-recording.ended: it checks the body size, the timestamp's
// replay window and the HMAC signature before it believes anything, then drops the recording
// and any pending resume for it.
func (c *Controller) WebhookHandler(o WebhookOptions) http.Handler {
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = 5 * time.Minute
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 16 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(code int, why string) {
			c.log.Warn("webhook refused", "status", code, "why", why, "remote", r.RemoteAddr)
			http.Error(w, why, code)
		}
		if r.Method != http.MethodPost {
			refuse(http.StatusMethodNotAllowed, "method must be POST")
			return
		}
		if len(o.Secret) == 0 {
			refuse(http.StatusServiceUnavailable, "webhook secret not configured")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, o.MaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", o.MaxBody))
				return
			}
			refuse(http.StatusBadRequest, "body could not be read")
			return
		}
		tsText := r.Header.Get(WebhookHeaderTimestamp)
		ts, err := strconv.ParseInt(tsText, 10, 64)
		if err != nil {
			refuse(http.StatusUnauthorized, "missing or malformed "+WebhookHeaderTimestamp)
			return
		}
		if d := o.Now().Sub(time.Unix(ts, 0)); d > o.ReplayWindow || d < -o.ReplayWindow {
			refuse(http.StatusUnauthorized, "timestamp outside the replay window")
			return
		}
		sig, ok := strings.CutPrefix(r.Header.Get(WebhookHeaderSignature), "sha256=")
		got, herr := hex.DecodeString(sig)
		if !ok || herr != nil {
			refuse(http.StatusUnauthorized, "missing or malformed "+WebhookHeaderSignature)
			return
		}
		m := hmac.New(sha256.New, o.Secret)
		m.Write([]byte(tsText))
		m.Write([]byte{'.'})
		m.Write(body)
		if !hmac.Equal(got, m.Sum(nil)) {
			refuse(http.StatusUnauthorized, "signature does not match")
			return
		}
		ev, err := DecodeEndedEvent(body)
		if err != nil {
			refuse(http.StatusBadRequest, err.Error())
			return
		}
		if err := c.TargetEnded(r.Context(), ev.RecordingID); err != nil {
			// The recording is already forgotten in memory; a store error is surfaced as a
			// fault and CXone's retry is welcome.
			refuse(http.StatusInternalServerError, "could not record the ended recording")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
