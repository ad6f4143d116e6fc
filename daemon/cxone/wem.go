package cxone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// TimeLayout is the guide's timestamp form: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Default reasons, from the guide.
const (
	ReasonDetected = "PCI_DATA_DETECTED"
	ReasonCleared  = "PCI_DATA_CLEARED"
)

// FormatTimestamp renders t the way the guide's bodies carry it: 2023-10-27T14:32:01.123Z.
func FormatTimestamp(t time.Time) string { return t.UTC().Format(TimeLayout) }

type pauseBody struct {
	Reason   string    `json:"reason"`
	Metadata pauseMeta `json:"metadata"`
}

type pauseMeta struct {
	PCIField           string `json:"pciField,omitempty"`
	DetectionTimestamp string `json:"detectionTimestamp"`
	ComplianceRule     string `json:"complianceRule,omitempty"`
}

type resumeBody struct {
	Reason   string     `json:"reason"`
	Metadata resumeMeta `json:"metadata"`
}

type resumeMeta struct {
	ClearTimestamp string `json:"clearTimestamp"`
}

// PauseBody is the exact JSON body of a wem-v1 pause. Empty reason defaults to
// PCI_DATA_DETECTED, a zero time to now. It refuses any field holding a digit run long enough
// to be card data, so a mislabelled field can never carry a PAN to CXone.
func PauseBody(r PauseRequest) ([]byte, error) {
	if r.Reason == "" {
		r.Reason = ReasonDetected
	}
	if r.DetectionTimestamp.IsZero() {
		r.DetectionTimestamp = time.Now()
	}
	for name, v := range map[string]string{"reason": r.Reason, "field": r.Field, "complianceRule": r.ComplianceRule} {
		if hasDigitRun(v) {
			return nil, fmt.Errorf("pause %s holds a long digit run; refusing to send what could be card data", name)
		}
	}
	return json.Marshal(pauseBody{Reason: r.Reason, Metadata: pauseMeta{PCIField: r.Field,
		DetectionTimestamp: FormatTimestamp(r.DetectionTimestamp), ComplianceRule: r.ComplianceRule}})
}

// ResumeBody is the exact JSON body of a wem-v1 resume.
func ResumeBody(r ResumeRequest) ([]byte, error) {
	if r.Reason == "" {
		r.Reason = ReasonCleared
	}
	if r.ClearTimestamp.IsZero() {
		r.ClearTimestamp = time.Now()
	}
	if hasDigitRun(r.Reason) {
		return nil, fmt.Errorf("resume reason holds a long digit run; refusing to send what could be card data")
	}
	return json.Marshal(resumeBody{Reason: r.Reason, Metadata: resumeMeta{ClearTimestamp: FormatTimestamp(r.ClearTimestamp)}})
}

// hasDigitRun reports 7 or more digits in a row (spaces and dashes between them allowed).
func hasDigitRun(s string) bool {
	run := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			run++
			if run >= 7 {
				return true
			}
		case r == ' ' || r == '-':
		default:
			run = 0
		}
	}
	return false
}

func (c *Client) wemURL(ctx context.Context, path string) (string, error) {
	base, _, err := c.Endpoints(ctx)
	if err != nil {
		return "", err
	}
	return base + path, nil
}

func checkTarget(op string, t Target, kind TargetKind) error {
	if t.Kind != kind || t.ID == "" {
		return &APIError{Op: op, Target: t.String(), Kind: ErrBadRequest,
			Msg: fmt.Sprintf("target must be a non-empty %s id", kind)}
	}
	return nil
}

func (c *Client) wemChange(ctx context.Context, op string, t Target, body []byte) error {
	if err := checkTarget(op, t, KindRecording); err != nil {
		return err
	}
	u, err := c.wemURL(ctx, "/screen-recordings/"+url.PathEscape(t.ID)+"/"+op)
	if err != nil {
		return err
	}
	res, err := c.do(ctx, op, t.String(), http.MethodPut, u, body)
	if err != nil {
		return err
	}
	if res.status == http.StatusOK || res.status == http.StatusNoContent {
		return nil
	}
	return c.apiError(op, t.String(), res)
}

func (c *Client) wemPause(ctx context.Context, t Target, r PauseRequest) error {
	body, err := PauseBody(r)
	if err != nil {
		return &APIError{Op: "pause", Target: t.String(), Kind: ErrBadRequest, Msg: err.Error()}
	}
	return c.wemChange(ctx, "pause", t, body)
}

func (c *Client) wemResume(ctx context.Context, t Target, r ResumeRequest) error {
	body, err := ResumeBody(r)
	if err != nil {
		return &APIError{Op: "resume", Target: t.String(), Kind: ErrBadRequest, Msg: err.Error()}
	}
	return c.wemChange(ctx, "resume", t, body)
}

func (c *Client) wemGet(ctx context.Context, t Target) (State, error) {
	if err := checkTarget("get", t, KindRecording); err != nil {
		return State{}, err
	}
	u, err := c.wemURL(ctx, "/screen-recordings/"+url.PathEscape(t.ID))
	if err != nil {
		return State{}, err
	}
	res, err := c.do(ctx, "get", t.String(), http.MethodGet, u, nil)
	if err != nil {
		return State{}, err
	}
	switch res.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return State{Status: StatusEnded}, c.apiError("get", t.String(), res)
	default:
		return State{}, c.apiError("get", t.String(), res)
	}
	rec, err := DecodeRecording(res.body)
	if err == nil && rec.ID != "" && rec.ID != t.ID {
		err = fmt.Errorf("answer is for recording %q", scrub(rec.ID))
	}
	if err != nil {
		return State{}, &APIError{Op: "get", Target: t.String(), StatusCode: res.status, Kind: ErrMalformed, RequestID: res.requestID, Msg: err.Error()}
	}
	return State{Status: rec.Status}, nil
}

// wemList lists the agent's RECORDING and PAUSED recordings (two calls: the guide's list
// filters by one status).
func (c *Client) wemList(ctx context.Context, agentID string) ([]Target, error) {
	if agentID == "" {
		return nil, &APIError{Op: "list", Kind: ErrBadRequest, Msg: "agent id is empty"}
	}
	var out []Target
	seen := map[string]bool{}
	for _, st := range []Status{StatusRecording, StatusPaused} {
		u, err := c.wemURL(ctx, "/screen-recordings?"+url.Values{"agentId": {agentID}, "status": {string(st)}}.Encode())
		if err != nil {
			return nil, err
		}
		res, err := c.do(ctx, "list", "", http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if res.status != http.StatusOK {
			return nil, c.apiError("list", "", res)
		}
		recs, err := DecodeRecordingList(res.body)
		if err != nil {
			return nil, &APIError{Op: "list", StatusCode: res.status, Kind: ErrMalformed, RequestID: res.requestID, Msg: err.Error()}
		}
		for _, r := range recs {
			if r.AgentID != "" && r.AgentID != agentID {
				return nil, &APIError{Op: "list", StatusCode: res.status, Kind: ErrMalformed, RequestID: res.requestID,
					Msg: "answer lists a recording of another agent"}
			}
			if seen[r.ID] || (r.Status != StatusRecording && r.Status != StatusPaused) {
				continue
			}
			seen[r.ID] = true
			out = append(out, Target{Kind: KindRecording, ID: r.ID, AgentID: agentID, InteractionID: r.InteractionID})
		}
	}
	return out, nil
}
