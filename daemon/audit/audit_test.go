package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHashCoversEveryField(t *testing.T) {
	base := Record{Seq: 1, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Type: TypeAPICall, Agent: "a",
		Interaction: "i", Episode: "e", Target: "t", Field: "f", Rule: "r", Kind: "k", Reason: "x", Op: "pause",
		Outcome: "ok", HTTPStatus: 200, LatencyUS: 5, Detail: "d", Meta: map[string]string{"m": "1"}, Prev: GenesisHash}
	h0, err := HashOf(base)
	if err != nil {
		t.Fatal(err)
	}
	muts := []struct {
		name string
		f    func(r *Record)
	}{
		{"seq", func(r *Record) { r.Seq = 2 }},
		{"time", func(r *Record) { r.Time = r.Time.Add(time.Nanosecond) }},
		{"type", func(r *Record) { r.Type = TypeDrop }},
		{"agent", func(r *Record) { r.Agent = "b" }},
		{"interaction", func(r *Record) { r.Interaction = "j" }},
		{"episode", func(r *Record) { r.Episode = "f" }},
		{"target", func(r *Record) { r.Target = "u" }},
		{"field", func(r *Record) { r.Field = "g" }},
		{"rule", func(r *Record) { r.Rule = "s" }},
		{"kind", func(r *Record) { r.Kind = "l" }},
		{"reason", func(r *Record) { r.Reason = "y" }},
		{"op", func(r *Record) { r.Op = "resume" }},
		{"outcome", func(r *Record) { r.Outcome = "no" }},
		{"status", func(r *Record) { r.HTTPStatus = 409 }},
		{"latency", func(r *Record) { r.LatencyUS = 6 }},
		{"detail", func(r *Record) { r.Detail = "e" }},
		{"meta", func(r *Record) { r.Meta = map[string]string{"m": "2"} }},
		{"prev", func(r *Record) { r.Prev = strings.Repeat("1", 64) }},
	}
	for _, m := range muts {
		r := base
		m.f(&r)
		if h, _ := HashOf(r); h == h0 {
			t.Errorf("changing %s does not change the hash", m.name)
		}
	}
	r := base
	r.Hash = "anything"
	if h, _ := HashOf(r); h != h0 {
		t.Error("the hash covers itself")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","type":"pci.open","prev":"00","hash":"11"}`))
	f.Add([]byte(`{"seq":1,"meta":{"a":"b"}} trailing`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if r.Seq != 0 || r.Type != "" {
				t.Fatalf("error with a partial record: %+v", r)
			}
			return
		}
		if _, err := HashOf(r); err != nil {
			t.Fatalf("decoded record does not hash: %v", err)
		}
	})
}

func FuzzVerifyLines(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","type":"pci.open","prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"x"}` + "\n"))
	f.Add([]byte("{}\n{}\n"))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := VerifyLines(bytes.NewReader(b))
		if n < 0 {
			t.Fatal("negative count")
		}
		_ = err
	})
}
