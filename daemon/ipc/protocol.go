package ipc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Version is the protocol version carried in every frame's "v".
const Version = 1

// MaxFrame is the largest frame body accepted or sent, in bytes.
const MaxFrame = 64 << 10

// Type names a message kind, carried in every frame's "type".
type Type string

// Helper → service.
const (
	TypeHello         Type = "hello"
	TypeHeartbeat     Type = "heartbeat"
	TypePCIOpen       Type = "pci_open"
	TypePCIClose      Type = "pci_close"
	TypeSelfcheck     Type = "selfcheck"
	TypeStatusRequest Type = "status_request"
)

// Service → helper.
const (
	TypeWelcome Type = "welcome"
	TypeState   Type = "state"
	TypeStatus  Type = "status"
	TypeError   Type = "error"
)

// Msg is one protocol message: one of the types below.
type Msg interface {
	Type() Type
	validate() error
}

// Hello is the helper's first message on every connection.
type Hello struct {
	Proto     int    `json:"proto"`      // protocol version the helper speaks (Version)
	PID       int    `json:"pid"`        // the helper's own pid; the service checks it against SO_PEERCRED
	SessionID string `json:"session_id"` // login session (XDG_SESSION_ID, or the Windows session id)
	Display   string `json:"display"`    // X11 DISPLAY or Windows window station/desktop
	Version   string `json:"version"`    // helper build version
}

// Heartbeat says the helper is alive; the service treats silence beyond helper_grace as a
// lost helper.
type Heartbeat struct{}

// PCI kinds in PCIOpen.Kind.
const (
	KindField     = "field"     // focus entered a configured PCI field
	KindDigits    = "digits"    // a run of digits reached the display threshold
	KindPAN       = "pan"       // a Luhn-valid card number
	KindPaste     = "paste"     // a card number was pasted
	KindInherited = "inherited" // a previous helper process left a PCI window open (it was killed)
)

// PCIOpen reports that card data is (or may be) on screen and is masked locally. Episode ids
// are unique per helper process and make the message idempotent: the client re-sends it for
// open episodes after a reconnect.
type PCIOpen struct {
	Episode   uint64    `json:"episode"`
	Field     string    `json:"field"` // a field name such as "credit_card_number", never a value
	Rule      string    `json:"rule"`  // the config rule name, or "" for digit runs
	Kind      string    `json:"kind"`
	Confirmed bool      `json:"confirmed"` // a Luhn-valid PAN was seen
	At        time.Time `json:"at"`
}

// PCIClose reports that an episode's data is gone from the screen (field cleared or left with
// its value masked, window closed); the service applies hold_down before resuming.
type PCIClose struct {
	Episode uint64    `json:"episode"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"` // e.g. "cleared", "focus_left", "window_closed"
}

// Selfcheck reports the overlay's readback result; OK=false puts the session in degraded state.
type Selfcheck struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// StatusRequest asks for a Status reply.
type StatusRequest struct{}

// Welcome answers Hello: the agent this session is recorded as, and the service's version.
type Welcome struct {
	AgentID string `json:"agent_id"`
	Version string `json:"version"`
	// Inherited counts PCI windows a previous helper process of this agent left open (it was
	// killed or crashed while masking). The helper then masks the focused window until the
	// field is erased or the window closes, and its own episode takes over from those.
	Inherited int `json:"inherited,omitempty"`
}

// State is the recording state the tray shows. The service sends it after Welcome and on
// every change.
type State struct {
	Recording       bool      `json:"recording"`
	Paused          bool      `json:"paused"`
	Degraded        bool      `json:"degraded"`
	Reason          string    `json:"reason"`
	Since           time.Time `json:"since"`
	LastPauseReason string    `json:"last_pause_reason"`
	Detail          string    `json:"detail"`
}

// Status answers StatusRequest with the service's status document (as `pcipause status
// --json` prints it), passed through opaquely.
type Status struct {
	Status json.RawMessage `json:"status"`
}

// Error is the service's refusal or complaint; the connection may close after it.
type Error struct {
	Msg string `json:"msg"`
}

func (Hello) Type() Type         { return TypeHello }
func (Heartbeat) Type() Type     { return TypeHeartbeat }
func (PCIOpen) Type() Type       { return TypePCIOpen }
func (PCIClose) Type() Type      { return TypePCIClose }
func (Selfcheck) Type() Type     { return TypeSelfcheck }
func (StatusRequest) Type() Type { return TypeStatusRequest }
func (Welcome) Type() Type       { return TypeWelcome }
func (State) Type() Type         { return TypeState }
func (Status) Type() Type        { return TypeStatus }
func (Error) Type() Type         { return TypeError }

// maxText bounds every free-text field so that no single field can carry a document.
const maxText = 512

func (m Hello) validate() error {
	if m.Proto < 1 {
		return fmt.Errorf("hello: proto %d", m.Proto)
	}
	if m.PID < 0 {
		return fmt.Errorf("hello: pid %d", m.PID)
	}
	return texts(text{"session_id", m.SessionID}, text{"display", m.Display}, text{"version", m.Version})
}
func (Heartbeat) validate() error { return nil }
func (m PCIOpen) validate() error {
	if m.Episode == 0 {
		return errors.New("pci_open: episode 0")
	}
	switch m.Kind {
	case KindField, KindDigits, KindPAN, KindPaste, KindInherited:
	default:
		return fmt.Errorf("pci_open: kind %q is not one of field, digits, pan, paste, inherited", clip(m.Kind))
	}
	return texts(text{"field", m.Field}, text{"rule", m.Rule})
}
func (m PCIClose) validate() error {
	if m.Episode == 0 {
		return errors.New("pci_close: episode 0")
	}
	return texts(text{"reason", m.Reason})
}
func (m Selfcheck) validate() error   { return texts(text{"detail", m.Detail}) }
func (StatusRequest) validate() error { return nil }
func (m Welcome) validate() error {
	return texts(text{"agent_id", m.AgentID}, text{"version", m.Version})
}
func (m State) validate() error {
	return texts(text{"reason", m.Reason}, text{"last_pause_reason", m.LastPauseReason}, text{"detail", m.Detail})
}
func (m Status) validate() error {
	if len(m.Status) > 0 && string(m.Status) != "null" && (!json.Valid(m.Status) || bytes.TrimSpace(m.Status)[0] != '{') {
		return errors.New("status: not a JSON object")
	}
	return nil
}
func (m Error) validate() error { return texts(text{"msg", m.Msg}) }

type text struct{ name, val string }

// texts checks free-text fields: bounded, and never holding something that could be card
// data (see DigitRun). This runs on Send and on Recv, so a buggy helper cannot put typed
// digits on the wire and a service never accepts them.
func texts(ts ...text) error {
	for _, t := range ts {
		if len(t.val) > maxText {
			return fmt.Errorf("field %s: %d bytes, limit %d", t.name, len(t.val), maxText)
		}
		if n := DigitRun(t.val); n > MaxDigitRun {
			return fmt.Errorf("field %s holds a run of %d digits (limit %d): refused, it could be card data", t.name, n, MaxDigitRun)
		}
	}
	return nil
}

// MaxDigitRun is the longest run of digits a text field may hold: six, the most of a card
// number a display may show. Longer runs are refused whatever they are.
const MaxDigitRun = 6

// DigitRun returns the length of the longest run of ASCII digits in s, where single spaces
// and dashes inside a run do not end it (card numbers are written "4111 1111 …").
func DigitRun(s string) int {
	best, cur := 0, 0
	sep := false // the previous byte was a separator that followed a digit
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			cur++
			sep = false
			best = max(best, cur)
		case (c == ' ' || c == '-') && cur > 0 && !sep:
			sep = true
		default:
			cur, sep = 0, false
		}
	}
	return best
}

// Text makes s fit a text field: clipped to the size limit, and every digit that would
// lengthen a run past MaxDigitRun replaced by '#'. For strings the sender does not control
// the digits of — a build version that is a bare commit hash ("4831293"), an error message —
// so the field is sent rather than refused.
func Text(s string) string {
	if len(s) > maxText {
		s = s[:maxText]
	}
	if DigitRun(s) <= MaxDigitRun {
		return s
	}
	b := []byte(s)
	cur, sep := 0, false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if cur == MaxDigitRun {
				b[i], cur, sep = '#', 0, false
				continue
			}
			cur++
			sep = false
		case (c == ' ' || c == '-') && cur > 0 && !sep:
			sep = true
		default:
			cur, sep = 0, false
		}
	}
	return string(b)
}

// Sentinel errors of the decoder. Every decode error wraps exactly one.
var (
	ErrOversize    = errors.New("frame too large")
	ErrShortFrame  = errors.New("truncated frame")
	ErrVersion     = errors.New("unsupported protocol version")
	ErrUnknownType = errors.New("unknown message type")
	ErrMalformed   = errors.New("malformed message")
)

// ProtoError is a decode or encode failure. Fatal reports whether the byte stream is
// desynchronised (the connection must be closed); otherwise one frame was consumed and the
// next may be read.
type ProtoError struct {
	Kind  error
	Fatal bool
	Msg   string
}

func (e *ProtoError) Error() string {
	if e.Msg == "" {
		return "ipc: " + e.Kind.Error()
	}
	return "ipc: " + e.Kind.Error() + ": " + e.Msg
}
func (e *ProtoError) Unwrap() error { return e.Kind }

// Encode returns the frame body for m: {"v":1,"type":...,<m's fields>}.
func Encode(m Msg) ([]byte, error) {
	if m == nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: "nil message"}
	}
	if err := m.validate(); err != nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: "refusing to send " + string(m.Type()) + ": " + err.Error()}
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: fmt.Sprintf("encode %s: %v", m.Type(), err)}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"v":%d,"type":%q`, Version, m.Type())
	if len(body) > 2 {
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	if b.Len() > MaxFrame {
		return nil, &ProtoError{Kind: ErrOversize, Msg: fmt.Sprintf("%s message is %d bytes, limit %d", m.Type(), b.Len(), MaxFrame)}
	}
	return b.Bytes(), nil
}

type header struct {
	V    *int    `json:"v"`
	Type *string `json:"type"`
}

// Decode parses one frame body. Unknown fields are ignored so that a newer peer can add
// optional fields within a protocol version; unknown types and versions are errors.
func Decode(body []byte) (Msg, error) {
	if len(body) > MaxFrame {
		return nil, &ProtoError{Kind: ErrOversize, Msg: fmt.Sprintf("%d bytes, limit %d", len(body), MaxFrame)}
	}
	var h header
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: "not a JSON object: " + jsonErr(err)}
	}
	if h.V == nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: `missing "v"`}
	}
	if *h.V != Version {
		return nil, &ProtoError{Kind: ErrVersion, Msg: fmt.Sprintf("v=%s, this build speaks v=%d", clip(strconv.Itoa(*h.V)), Version)}
	}
	if h.Type == nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: `missing "type"`}
	}
	var m Msg
	var err error
	switch Type(*h.Type) {
	case TypeHello:
		m, err = decodeAs[Hello](body)
	case TypeHeartbeat:
		m, err = decodeAs[Heartbeat](body)
	case TypePCIOpen:
		m, err = decodeAs[PCIOpen](body)
	case TypePCIClose:
		m, err = decodeAs[PCIClose](body)
	case TypeSelfcheck:
		m, err = decodeAs[Selfcheck](body)
	case TypeStatusRequest:
		m, err = decodeAs[StatusRequest](body)
	case TypeWelcome:
		m, err = decodeAs[Welcome](body)
	case TypeState:
		m, err = decodeAs[State](body)
	case TypeStatus:
		m, err = decodeAs[Status](body)
	case TypeError:
		m, err = decodeAs[Error](body)
	default:
		return nil, &ProtoError{Kind: ErrUnknownType, Msg: fmt.Sprintf("%q", clip(*h.Type))}
	}
	if err != nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: *h.Type + ": " + jsonErr(err)}
	}
	if err := m.validate(); err != nil {
		return nil, &ProtoError{Kind: ErrMalformed, Msg: err.Error()}
	}
	return m, nil
}

func decodeAs[T Msg](body []byte) (Msg, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonErr describes a JSON error without quoting the input: a garbage frame could hold
// anything, including digits typed by a user, and the message ends up in a log.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %s: got JSON %s, want %s", clip(te.Field), te.Value, te.Type)
	}
	return "invalid JSON value"
}

// clip makes an untrusted string safe to put in an error: bounded, and with digits replaced.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '#'
		} else if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// WriteFrame writes one length-prefixed frame: a 4-byte big-endian length, then the body.
func WriteFrame(w io.Writer, body []byte) error {
	if len(body) > MaxFrame {
		return &ProtoError{Kind: ErrOversize, Fatal: true, Msg: fmt.Sprintf("%d bytes, limit %d", len(body), MaxFrame)}
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame body. An oversize length is refused before anything is
// allocated; io.EOF is returned only at a frame boundary.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &ProtoError{Kind: ErrShortFrame, Fatal: true, Msg: "length prefix cut off"}
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, &ProtoError{Kind: ErrOversize, Fatal: true, Msg: fmt.Sprintf("length prefix %d, limit %d", n, MaxFrame)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &ProtoError{Kind: ErrShortFrame, Fatal: true, Msg: fmt.Sprintf("got fewer than the %d bytes announced", n)}
		}
		return nil, err
	}
	return body, nil
}

// ReadMsg reads and decodes one frame.
func ReadMsg(r io.Reader) (Msg, error) {
	body, err := ReadFrame(r)
	if err != nil {
		return nil, err
	}
	return Decode(body)
}

// WriteMsg encodes and writes one frame.
func WriteMsg(w io.Writer, m Msg) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	return WriteFrame(w, body)
}
