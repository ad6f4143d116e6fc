package cxonesim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// EndedEvent is the body of the screen-recording.ended webhook.
type EndedEvent struct {
	Event         string `json:"event"` // "screen-recording.ended"
	RecordingID   string `json:"screenRecordingId"`
	InteractionID string `json:"interactionId"`
	AgentID       string `json:"agentId"`
	EndedAt       string `json:"endedAt"` // RFC 3339 UTC with milliseconds
}

// webhookAttempts is how often a delivery is tried before it is given up.
const webhookAttempts = 3

// fireEnded queues the ended webhook to every registered URL. Caller holds mu.
func (s *Server) fireEnded(r *recording) {
	if len(s.hooks) == 0 {
		return
	}
	body, _ := json.Marshal(EndedEvent{Event: EventEnded, RecordingID: r.id, InteractionID: r.interaction,
		AgentID: r.agent, EndedAt: r.ended.UTC().Format(timeLayout)})
	for _, h := range s.hooks {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(h, r.id, body)
		}()
	}
}

// Sign returns the webhook headers' values for body at ts: the unix timestamp and
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return timestamp, "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Server) deliver(h webhookReg, recID string, body []byte) {
	backoff := 100 * time.Millisecond
	for attempt := 1; attempt <= webhookAttempts; attempt++ {
		ts, sig := Sign(h.secret, s.now(), body)
		// An attempt in flight finishes (bounded by the client timeout) even when Close is
		// called, so its outcome is recorded; Close only cuts the backoff between attempts.
		req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
		if err != nil {
			s.record(Delivery{URL: h.url, RecordingID: recID, Err: "bad webhook URL", Time: s.now()})
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, sig)
		resp, err := s.hookClient.Do(req)
		d := Delivery{URL: h.url, RecordingID: recID, Time: s.now()}
		if err != nil {
			d.Err = err.Error()
		} else {
			d.Status = resp.StatusCode
			resp.Body.Close()
		}
		s.record(d)
		if err == nil && resp.StatusCode < 300 {
			return
		}
		if err == nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return // the receiver refused it for good
		}
		t := time.NewTimer(backoff)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff *= 4
	}
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
}
