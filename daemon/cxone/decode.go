package cxone

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps a server's Retry-After so a hostile or broken answer cannot park the
// controller for hours.
const maxRetryAfter = 10 * time.Minute

// ParseRetryAfter reads a Retry-After header in seconds or as an HTTP-date; 0 when absent or
// unreadable. The result is capped at 10 minutes.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// serverMessage pulls a human message out of an error body ({"message"}, {"error_description"}
// or {"error"}), scrubbed.
func serverMessage(body []byte) string {
	var e struct {
		Error       any    `json:"error"`
		Message     string `json:"message"`
		Description string `json:"error_description"`
	}
	if len(body) == 0 || json.Unmarshal(body, &e) != nil {
		return ""
	}
	code, _ := e.Error.(string)
	for _, m := range []string{e.Message, e.Description, code} {
		if m != "" {
			return scrub(m)
		}
	}
	return ""
}

// Recording is the wem-v1 screen-recording resource. The guide shows only "status"; the rest
// of the shape, and the list wrapper {"recordings":[…]}, are this project's definition (the
// simulator serves it).
type Recording struct {
	ID            string `json:"id"`
	AgentID       string `json:"agentId"`
	InteractionID string `json:"interactionId"`
	Status        Status `json:"status"`
	StartedAt     string `json:"startedAt"`
}

func validStatus(s Status) bool {
	return s == StatusRecording || s == StatusPaused || s == StatusEnded
}

// DecodeRecording decodes one recording; the status must be RECORDING, PAUSED or ENDED.
func DecodeRecording(body []byte) (Recording, error) {
	var r Recording
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("recording does not decode: %s", jsonErr(err))
	}
	if !validStatus(r.Status) {
		return r, fmt.Errorf("recording status %q is not RECORDING, PAUSED or ENDED", scrub(string(r.Status)))
	}
	return r, nil
}

// DecodeRecordingList decodes {"recordings":[…]}; every entry needs an id and a known status.
func DecodeRecordingList(body []byte) ([]Recording, error) {
	var l struct {
		Recordings *[]Recording `json:"recordings"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("recording list does not decode: %s", jsonErr(err))
	}
	if l.Recordings == nil {
		return nil, errors.New(`recording list has no "recordings" array`)
	}
	for i, r := range *l.Recordings {
		if r.ID == "" {
			return nil, fmt.Errorf("recording list entry %d has no id", i)
		}
		if !validStatus(r.Status) {
			return nil, fmt.Errorf("recording list entry %d: status %q is not RECORDING, PAUSED or ENDED", i, scrub(string(r.Status)))
		}
	}
	return *l.Recordings, nil
}

// MaskStatus is the cxone-mask get-recording-status answer as this project models it.
type MaskStatus struct {
	UserID          string `json:"userId"`
	ContactID       string `json:"contactId"`
	RecordingStatus string `json:"recordingStatus"`
	StatusReason    string `json:"statusReason"`
	Processing      bool   `json:"processing"`
}

// DecodeMaskStatus decodes get-recording-status; statusReason must be "" or "Mask".
func DecodeMaskStatus(body []byte) (MaskStatus, error) {
	var m MaskStatus
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("recording status does not decode: %s", jsonErr(err))
	}
	if m.StatusReason != "" && m.StatusReason != "Mask" {
		return m, fmt.Errorf("statusReason %q is not Mask or empty", scrub(m.StatusReason))
	}
	return m, nil
}

// jsonErr describes a JSON error without quoting the input.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return scrub(err.Error())
}
