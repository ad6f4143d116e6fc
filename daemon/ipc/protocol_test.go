package ipc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testPANs are the only card numbers the tests use.
var testPANs = []string{"4111111111111111", "5500005555555559", "340000000000009", "6011000990139424"}

func grouped(pan string, sep string) string {
	var b strings.Builder
	for i, c := range pan {
		if i > 0 && i%4 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

var at = time.Date(2026, 11, 25, 14, 32, 1, 123e6, time.UTC)

func allMessages() []Msg {
	return []Msg{
		Hello{Proto: 1, PID: 4242, SessionID: "c2", Display: ":0", Version: "v0.1.0"},
		Heartbeat{},
		PCIOpen{Episode: 7, Field: "credit_card_number", Rule: "crm-card", Kind: KindPAN, Confirmed: true, At: at},
		PCIClose{Episode: 7, At: at.Add(time.Second), Reason: "cleared"},
		Selfcheck{OK: false, Detail: "readback found uncovered pixels"},
		StatusRequest{},
		Welcome{AgentID: "agent-42", Version: "v0.1.0"},
		State{Recording: true, Paused: true, Reason: "PCI_DATA_DETECTED", Since: at, LastPauseReason: "PCI_DATA_DETECTED"},
		Status{Status: json.RawMessage(`{"paused":true,"targets":2}`)},
		Error{Msg: "not authorized: uid 1001 is not allowed"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range allMessages() {
		t.Run(string(m.Type()), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMsg(&buf, m); err != nil {
				t.Fatalf("WriteMsg: %v", err)
			}
			n := binary.BigEndian.Uint32(buf.Bytes()[:4])
			if int(n) != buf.Len()-4 {
				t.Fatalf("length prefix %d, body %d", n, buf.Len()-4)
			}
			body := buf.Bytes()[4:]
			if !bytes.HasPrefix(body, []byte(`{"v":1,"type":"`+string(m.Type())+`"`)) {
				t.Errorf("frame does not start with the header: %s", body)
			}
			if !json.Valid(body) {
				t.Errorf("frame is not valid JSON: %s", body)
			}
			got, err := ReadMsg(&buf)
			if err != nil {
				t.Fatalf("ReadMsg: %v", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip: got %#v, want %#v", got, m)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		kind error
		msg  string
	}{
		{"empty", ``, ErrMalformed, "not a JSON object"},
		{"garbage", "\x00\xffGET / HTTP/1.1", ErrMalformed, "not a JSON object"},
		{"array", `[1,2]`, ErrMalformed, "not a JSON object"},
		{"missing v", `{"type":"heartbeat"}`, ErrMalformed, `missing "v"`},
		{"v as string", `{"v":"1","type":"heartbeat"}`, ErrMalformed, "not a JSON object"},
		{"future version", `{"v":2,"type":"heartbeat"}`, ErrVersion, "v=#"},
		{"version zero", `{"v":0,"type":"heartbeat"}`, ErrVersion, ""},
		{"missing type", `{"v":1}`, ErrMalformed, `missing "type"`},
		{"unknown type", `{"v":1,"type":"launch_missiles"}`, ErrUnknownType, "launch_missiles"},
		{"wrong field type", `{"v":1,"type":"pci_open","episode":"seven","kind":"pan"}`, ErrMalformed, "field episode"},
		{"bad kind", `{"v":1,"type":"pci_open","episode":1,"kind":"everything"}`, ErrMalformed, "kind"},
		{"episode zero", `{"v":1,"type":"pci_close","episode":0}`, ErrMalformed, "episode 0"},
		{"bad time", `{"v":1,"type":"pci_close","episode":1,"at":"yesterday"}`, ErrMalformed, "pci_close"},
		{"negative episode", `{"v":1,"type":"pci_close","episode":-1}`, ErrMalformed, "episode"},
		{"hello proto 0", `{"v":1,"type":"hello","proto":0}`, ErrMalformed, "proto"},
		{"status not json", `{"v":1,"type":"status","status":"x"}`, ErrMalformed, ""},
		{"long text", `{"v":1,"type":"error","msg":"` + strings.Repeat("a", maxText+1) + `"}`, ErrMalformed, "limit"},
		{"oversize", `{"v":1,"type":"error","msg":"` + strings.Repeat("a", MaxFrame) + `"}`, ErrOversize, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode accepted it: %#v", m)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v is not %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "ipc: ") {
				t.Errorf("error %q lacks the ipc: prefix", err)
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	oversize := make([]byte, 4)
	binary.BigEndian.PutUint32(oversize, MaxFrame+1)
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	short := append(binary.BigEndian.AppendUint32(nil, 10), `{"v":1`...)
	tests := []struct {
		name  string
		in    []byte
		kind  error
		fatal bool
	}{
		{"oversize prefix", oversize, ErrOversize, true},
		{"4 GiB prefix", huge, ErrOversize, true},
		{"cut length", []byte{0, 0}, ErrShortFrame, true},
		{"cut body", short, ErrShortFrame, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in))
			var pe *ProtoError
			if !errors.As(err, &pe) || !errors.Is(err, tt.kind) || pe.Fatal != tt.fatal {
				t.Fatalf("ReadFrame = %v, want %v fatal=%v", err, tt.kind, tt.fatal)
			}
		})
	}
	if err := WriteFrame(&bytes.Buffer{}, make([]byte, MaxFrame+1)); !errors.Is(err, ErrOversize) {
		t.Errorf("WriteFrame(oversize) = %v", err)
	}
}

func TestDigitRun(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"credit_card_number", 0},
		{"abc123def", 3},
		{"411111", 6},
		{"4111111", 7},
		{"4111 1111 1111 1111", 16},
		{"4111-1111-1111-1111", 16},
		{"4111  1111", 4}, // two separators end a run
		{"12 - 34", 2},
		{"uid 1001 pid 2002", 4},
		{"v1.2.3-45", 3},
		{" 1234-", 4},
	}
	for _, tt := range tests {
		if got := DigitRun(tt.in); got != tt.want {
			t.Errorf("DigitRun(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestNoCardDataOnTheWire: a PAN (plain or grouped) put into any text field of any message is
// refused by Encode, and the refusal does not repeat it; decoding a frame that holds one fails
// the same way. The normal frames of every message hold no run of more than six digits.
func TestNoCardDataOnTheWire(t *testing.T) {
	for _, pan := range testPANs {
		for _, v := range []string{pan, grouped(pan, " "), grouped(pan, "-"), "card " + pan[:7]} {
			msgs := []Msg{
				Hello{Proto: 1, SessionID: v}, Hello{Proto: 1, Display: v}, Hello{Proto: 1, Version: v},
				PCIOpen{Episode: 1, Kind: KindPAN, Field: v}, PCIOpen{Episode: 1, Kind: KindPAN, Rule: v},
				PCIClose{Episode: 1, Reason: v}, Selfcheck{Detail: v}, Welcome{AgentID: v}, Welcome{Version: v},
				State{Reason: v}, State{LastPauseReason: v}, State{Detail: v}, Error{Msg: v},
			}
			for _, m := range msgs {
				body, err := Encode(m)
				if err == nil {
					t.Errorf("Encode(%s with card digits) = %s, want refusal", m.Type(), body)
					continue
				}
				if strings.Contains(err.Error(), pan[:7]) {
					t.Errorf("refusal repeats the digits: %v", err)
				}
				// The same message built by hand must not get past the decoder either.
				raw, _ := json.Marshal(m)
				frame := append([]byte(`{"v":1,"type":"`+string(m.Type())+`",`), raw[1:]...)
				if _, err := Decode(frame); err == nil {
					t.Errorf("Decode accepted a %s frame with card digits", m.Type())
				} else if strings.Contains(err.Error(), pan[:7]) {
					t.Errorf("decode error repeats the digits: %v", err)
				}
			}
		}
		// Garbage holding a PAN: the error must not echo it.
		for _, g := range []string{`{"v":1,"type":"` + pan + `"}`, `{"v":` + pan + `,"type":"x"}`, `{"v":1,"type":"pci_open","kind":"` + pan + `","episode":1}`, pan} {
			_, err := Decode([]byte(g))
			if err == nil || DigitRun(err.Error()) > MaxDigitRun {
				t.Errorf("Decode(%q) error %v repeats digits", g, err)
			}
		}
	}
	for _, m := range allMessages() {
		body, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatal(err)
		}
		for k, v := range fields {
			if s, ok := v.(string); ok && DigitRun(s) > MaxDigitRun && k != "at" && k != "since" {
				t.Errorf("%s.%s = %q: more than six digits on the wire", m.Type(), k, s)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range allMessages() {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":2,"type":"hello"}`))
	f.Add([]byte(`{"v":1,"type":"pci_open","episode":1,"kind":"pan","field":"4111111111111111"}`))
	f.Add([]byte(`{"v":1,"type":"status","status":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte("\x00\x00\x00\x05hello"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			var pe *ProtoError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if len(body) <= MaxFrame && DigitRun(err.Error()) > MaxDigitRun {
				t.Fatalf("error repeats a digit run: %v", err)
			}
			return
		}
		// Anything the decoder accepts, the encoder can send and the decoder reads back.
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted %T does not re-encode: %v", m, err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", m, err)
		}
		if m2.Type() != m.Type() {
			t.Fatalf("type changed: %s → %s", m.Type(), m2.Type())
		}
		// Also as a stream: the frame reader takes it back whole.
		var buf bytes.Buffer
		if err := WriteFrame(&buf, b); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadMsg(&buf); err != nil {
			t.Fatalf("stream read: %v", err)
		}
	})
}

// TestTextKeepsFieldsSendable: a bare commit hash as the build version ("4831293") used to
// make every Hello invalid, so the helper could never greet the service.
func TestTextKeepsFieldsSendable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.2.3", "v1.2.3"},
		{"4831293", "483129#"},
		{"0.1.42-g1234567-dirty", "0.1.42-g123456#-dirty"},
		{"4111 1111 1111 1111", "4111 11#1 1111 1#11"},
		{"123456", "123456"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if err := (Hello{Proto: Version, PID: 1, Version: Text("4831293")}).validate(); err != nil {
		t.Errorf("hello with a scrubbed hash version: %v", err)
	}
	if len(Text(strings.Repeat("a", maxText+10))) != maxText {
		t.Error("Text does not clip to the size limit")
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"4831293", "4111 1111 1111 1111", "1-2-3-4-5-6-7-8", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if n := DigitRun(out); n > MaxDigitRun {
			t.Fatalf("Text(%q) = %q keeps a run of %d digits", s, out, n)
		}
		if len(out) > maxText {
			t.Fatalf("Text left %d bytes", len(out))
		}
	})
}
