// Package webhook receives CXone's screen-recording.ended webhook: it checks the HMAC-SHA256
// signature over "<timestamp>.<body>", refuses timestamps outside a replay window and replays
// inside it, bounds the body, decodes it strictly and hands the ended recording to a callback.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Header names and the one event this receiver accepts.
const (
	HeaderTimestamp = "X-CXone-Timestamp"
	HeaderSignature = "X-CXone-Signature"
	EventEnded      = "screen-recording.ended"
)

// Defaults of Options.
const (
	DefaultReplayWindow = 5 * time.Minute
	DefaultMaxBody      = 64 << 10
	minSecret           = 16
	maxSeen             = 10000
)

// Sentinel errors; every rejection wraps one.
var (
	ErrSignature = errors.New("bad signature")
	ErrStale     = errors.New("timestamp outside the replay window")
	ErrTooLarge  = errors.New("body too large")
	ErrMalformed = errors.New("malformed body")
)

// Event is one ended recording.
type Event struct {
	RecordingID   string
	InteractionID string // "" when CXone did not send it
	AgentID       string
	EndedAt       time.Time // zero when CXone did not send it
}

// Options configure a Handler.
type Options struct {
	Secret       []byte        // shared HMAC secret, at least 16 bytes
	ReplayWindow time.Duration // default 5m: |now - timestamp| beyond it is refused
	MaxBody      int64         // default 64 KiB
	// OnEnded is called once per accepted event; an error makes the answer 500 so CXone
	// delivers again.
	OnEnded func(ctx context.Context, ev Event) error
	Now     func() time.Time
}

// Handler is the http.Handler for the webhook path.
type Handler struct {
	o   Options
	log *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // signature → when it stops mattering
}

// New checks the options and returns the handler.
func New(o Options, log *slog.Logger) (*Handler, error) {
	if len(o.Secret) < minSecret {
		return nil, fmt.Errorf("webhook: secret must be at least %d bytes", minSecret)
	}
	if o.OnEnded == nil {
		return nil, errors.New("webhook: OnEnded callback is required")
	}
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = DefaultReplayWindow
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{o: o, log: log.With("component", "webhook"), seen: map[string]time.Time{}}, nil
}

// Sign returns the header values for body sent at ts (the sender's side, used by tests and
// the simulator's documentation).
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the signature and that the timestamp lies within window of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) error {
	if timestamp == "" {
		return fmt.Errorf("%w: %s header missing", ErrSignature, HeaderTimestamp)
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || sec < 0 {
		return fmt.Errorf("%w: %s is not unix seconds", ErrSignature, HeaderTimestamp)
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s must be sha256=<hex>", ErrSignature, HeaderSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex SHA-256 MAC", ErrSignature, HeaderSignature)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return fmt.Errorf("%w: MAC does not match", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return fmt.Errorf("%w (%s off, window %s)", ErrStale, d.Round(time.Second), window)
	}
	return nil
}

type wireEvent struct {
	Event         string `json:"event"`
	RecordingID   string `json:"screenRecordingId"`
	InteractionID string `json:"interactionId"`
	AgentID       string `json:"agentId"`
	EndedAt       string `json:"endedAt"`
}

// Decode parses a webhook body strictly: one JSON object, no unknown fields, event
// screen-recording.ended, a printable screenRecordingId, and endedAt in RFC 3339 if present.
func Decode(body []byte) (Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("%w: %s", ErrMalformed, describe(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if w.Event != EventEnded {
		return Event{}, fmt.Errorf("%w: event %q is not %s", ErrMalformed, clip(w.Event), EventEnded)
	}
	for name, v := range map[string]string{"screenRecordingId": w.RecordingID, "interactionId": w.InteractionID, "agentId": w.AgentID} {
		if err := checkID(v); err != nil {
			if v == "" && name != "screenRecordingId" {
				continue
			}
			return Event{}, fmt.Errorf("%w: %s %s", ErrMalformed, name, err)
		}
	}
	ev := Event{RecordingID: w.RecordingID, InteractionID: w.InteractionID, AgentID: w.AgentID}
	if w.EndedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.EndedAt)
		if err != nil {
			return Event{}, fmt.Errorf("%w: endedAt is not RFC 3339", ErrMalformed)
		}
		ev.EndedAt = t
	}
	return ev, nil
}

func checkID(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	if len(s) > 256 {
		return errors.New("longer than 256 bytes")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return errors.New("holds a non-printable character")
		}
	}
	return nil
}

// describe renders a JSON error without quoting the body.
func describe(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return clip(strings.TrimPrefix(err.Error(), "json: "))
	}
	return "not a JSON object"
}

// clip bounds text quoted back in an error and drops anything but plain printable runes.
func clip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			b.WriteString("…")
			break
		}
		if r >= '0' && r <= '9' {
			r = '#' // never echo digits a sender put in a field
		}
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, err := h.serve(r)
	if err != nil {
		h.log.Warn("webhook refused", "status", status, "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, err)
		return
	}
	w.WriteHeader(status)
}

func (h *Handler) serve(r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, fmt.Errorf("webhook: method %s not allowed", r.Method)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return http.StatusUnsupportedMediaType, errors.New("webhook: Content-Type must be application/json")
	}
	if r.ContentLength > h.o.MaxBody {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("webhook: %w (limit %d bytes)", ErrTooLarge, h.o.MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.o.MaxBody+1))
	if err != nil {
		return http.StatusBadRequest, errors.New("webhook: body could not be read")
	}
	if int64(len(body)) > h.o.MaxBody {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("webhook: %w (limit %d bytes)", ErrTooLarge, h.o.MaxBody)
	}
	now := h.o.Now()
	sig := r.Header.Get(HeaderSignature)
	if err := Verify(h.o.Secret, r.Header.Get(HeaderTimestamp), sig, body, now, h.o.ReplayWindow); err != nil {
		return http.StatusUnauthorized, fmt.Errorf("webhook: %w", err)
	}
	ev, err := Decode(body)
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("webhook: %w", err)
	}
	if h.replayed(sig, now) {
		h.log.Info("webhook replay ignored", "recording", ev.RecordingID)
		return http.StatusNoContent, nil
	}
	if err := h.o.OnEnded(r.Context(), ev); err != nil {
		h.forget(sig)
		return http.StatusInternalServerError, fmt.Errorf("webhook: handling ended recording: %w", err)
	}
	h.log.Info("recording ended", "recording", ev.RecordingID, "interaction", ev.InteractionID)
	return http.StatusNoContent, nil
}

// replayed records sig and reports whether it was already seen inside the window.
func (h *Handler) replayed(sig string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if until, ok := h.seen[sig]; ok && now.Before(until) {
		return true
	}
	if len(h.seen) >= maxSeen {
		for k, until := range h.seen {
			if !now.Before(until) {
				delete(h.seen, k)
			}
		}
		if len(h.seen) >= maxSeen { // all still live: drop arbitrary ones rather than grow
			for k := range h.seen {
				delete(h.seen, k)
				if len(h.seen) < maxSeen/2 {
					break
				}
			}
		}
	}
	h.seen[sig] = now.Add(2 * h.o.ReplayWindow)
	return false
}

func (h *Handler) forget(sig string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.seen, sig)
}
