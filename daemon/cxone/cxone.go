// Package cxone is the service's client for NICE CXone recording control. It speaks two back
// ends behind one interface over a Target: "wem-v1" (the integration guide's screen-recording
// pause/resume API) and "cxone-mask" (CXone's documented Public Mask API, which masks the
// voice and screen of a user's latest call). Errors are typed so the controller can tell a
// retryable failure from a final one without parsing strings.
package cxone

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backend names, as written in the config file.
const (
	BackendWEMv1 = "wem-v1"
	BackendMask  = "cxone-mask"
)

// TargetKind says what a Target's ID names.
type TargetKind string

const (
	// KindRecording: ID is a wem-v1 screenRecordingId.
	KindRecording TargetKind = "recording"
	// KindUser: ID is a CXone user id whose latest call the Mask API masks.
	KindUser TargetKind = "user"
)

// Target is one thing that can be paused: a screen recording (wem-v1) or a user's current
// call (cxone-mask). InteractionID is empty when the back end does not report it.
type Target struct {
	Kind          TargetKind `json:"kind"`
	ID            string     `json:"id"`
	AgentID       string     `json:"agent_id"`
	InteractionID string     `json:"interaction_id,omitempty"`
}

func (t Target) String() string { return string(t.Kind) + ":" + t.ID }

// Status is a target's recording state as the back end reports it.
type Status string

const (
	StatusRecording Status = "RECORDING"
	StatusPaused    Status = "PAUSED" // wem-v1 PAUSED, or cxone-mask statusReason Mask
	StatusEnded     Status = "ENDED"  // ended, purged (404) or no active call
)

// State is the result of reading one target.
type State struct {
	Status Status
	// Pending is true while the back end is still applying a previous change
	// (cxone-mask 202 Accepted still processing).
	Pending bool
}

// PauseRequest carries the guide's audit fields. Timestamps are sent as RFC 3339 UTC with
// milliseconds.
type PauseRequest struct {
	Reason             string    // e.g. PCI_DATA_DETECTED, MASKING_AGENT_DOWN
	Field              string    // metadata.pciField, e.g. credit_card_number
	DetectionTimestamp time.Time // metadata.detectionTimestamp
	ComplianceRule     string    // metadata.complianceRule, e.g. PCI-DSS-Req-3.4
}

// ResumeRequest carries the guide's resume fields.
type ResumeRequest struct {
	Reason         string    // PCI_DATA_CLEARED
	ClearTimestamp time.Time // metadata.clearTimestamp
}

// Backend is one CXone API flavour. Implementations are safe for concurrent use.
type Backend interface {
	// Name is BackendWEMv1 or BackendMask.
	Name() string
	// ListActive returns the agent's targets that are currently being recorded or paused
	// (wem-v1: GET …/screen-recordings?agentId=…&status=RECORDING plus status=PAUSED;
	// cxone-mask: the user itself when get-recording-status shows an active call).
	ListActive(ctx context.Context, agentID string) ([]Target, error)
	// Get reads one target's state. A 404 is returned as State{Status: StatusEnded} with
	// an error wrapping ErrNotFound.
	Get(ctx context.Context, t Target) (State, error)
	// Pause asks the back end to stop capturing the target. cxone-mask answers 202 while the
	// mask is still being applied and 425 while an earlier change is: both wrap ErrPending, and
	// the caller reads the target with Get until it is no longer Pending.
	Pause(ctx context.Context, t Target, r PauseRequest) error
	// Resume asks the back end to capture the target again.
	Resume(ctx context.Context, t Target, r ResumeRequest) error
}

// Sentinel errors. Every error a Backend returns for an HTTP answer wraps exactly one of these
// through *APIError, so errors.Is tells the caller what to do.
var (
	ErrNotFound      = errors.New("not found")          // 404: recording unknown/ended, or user has no active call
	ErrConflict      = errors.New("conflict")           // 409: not in the expected state
	ErrRateLimited   = errors.New("rate limited")       // 429: see APIError.RetryAfter
	ErrPending       = errors.New("still processing")   // 202 Accepted / 425 Too Early: retry later
	ErrNotApplicable = errors.New("not applicable")     // 422: internal call, cannot be masked
	ErrForbidden     = errors.New("forbidden")          // 403: missing scope or permission
	ErrUnauthorized  = errors.New("unauthorized")       // 401 after one token refresh
	ErrTransient     = errors.New("transient")          // 5xx, timeouts, connection resets
	ErrMalformed     = errors.New("malformed response") // a body that does not decode
	ErrBadRequest    = errors.New("bad request")        // 400: our request was refused
)

// APIError is the typed error for a CXone answer. It never contains a token or a secret.
type APIError struct {
	Op         string        // "pause", "resume", "get", "list", "token"
	Target     string        // Target.String(), or "" for list/token
	StatusCode int           // HTTP status, 0 for transport errors
	Kind       error         // one of the sentinels above
	RetryAfter time.Duration // 429 (and 503 when sent): how long the server asked us to wait
	Scope      string        // 403: the scope or permission that is likely missing
	RequestID  string        // the request id sent with the call
	Msg        string        // the server's message or the transport error, without secrets
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("cxone %s", e.Op)
	if e.Target != "" {
		s += " " + e.Target
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	s += ": " + e.Kind.Error()
	if e.Scope != "" {
		s += " (likely missing " + e.Scope + ")"
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func (e *APIError) Is(target error) bool { return target == e.Kind }

func (e *APIError) Unwrap() error { return e.Kind }

// Retryable reports whether the same call may succeed later without any change on our side.
func Retryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrPending) || errors.Is(err, ErrTransient)
}
