package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/cxone/webhook"
)

// cardHits reports which test PANs appear in b, also when written with spaces or dashes.
func cardHits(b []byte) []string {
	squeezed := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, b)
	var hits []string
	for _, p := range testPANs {
		if bytes.Contains(b, []byte(p)) || bytes.Contains(squeezed, []byte(p)) {
			hits = append(hits, p)
		}
	}
	return hits
}

func spaced(p string, sep string) string {
	var parts []string
	for i := 0; i < len(p); i += 4 {
		parts = append(parts, p[i:min(i+4, len(p))])
	}
	return strings.Join(parts, sep)
}

// TestNoCardDataAnywhere sends PCI events carrying a test PAN in every field that could hold
// one, runs them through pause and resume against the simulator, and scans the state file,
// the audit export, the logs, the errors, the calls CXone received and every temporary file:
// zero hits.
func TestNoCardDataAnywhere(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newSimEnv(t, cxone.BackendWEMv1, cxonesim.Options{})
	_, recs := e.call("agent-pan", 1)
	h := newHarness(t, e.be, fastConfig())
	ctx := context.Background()
	var errs []error
	for _, p := range testPANs {
		for _, form := range []string{p, spaced(p, " "), spaced(p, "-")} {
			err := h.c.Open(ctx, Open{AgentID: "agent-pan", Episode: "ep-" + form, InteractionID: form,
				Field: "card number " + form, Rule: form, Kind: form, Reason: form, At: time.Now()})
			if err != nil {
				t.Fatalf("open with card data in its fields must still pause (fail closed): %v", err)
			}
			err = h.c.Open(ctx, Open{AgentID: form, Episode: "e"})
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("open with a card number as agent id = %v, want ErrBadInput", err)
			}
			errs = append(errs, err, h.c.TargetEnded(ctx, form), h.c.InteractionClosed(ctx, form),
				h.c.Close(ctx, Close{AgentID: "agent-pan", Episode: "nope-" + form, Reason: form}))
		}
	}
	h.eventually("paused", func() bool { return e.paused("agent-pan", recs[0]) })
	// A webhook whose body carries a card number is refused without echoing it.
	secret := []byte("webhook-test-secret")
	hook, err := webhook.New(webhook.Options{Secret: secret, OnEnded: func(ctx context.Context, ev webhook.Event) error {
		return h.c.TargetEnded(ctx, ev.RecordingID)
	}}, h.logger())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hook)
	body := []byte(`{"event":"screen-recording.ended","screenRecordingId":"` + testPANs[0] + `"}`)
	ts, sig := webhook.Sign(secret, time.Now(), body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer := new(bytes.Buffer)
	answer.ReadFrom(resp.Body)
	resp.Body.Close()
	srv.Close()

	for _, p := range testPANs {
		for _, form := range []string{p, spaced(p, " "), spaced(p, "-")} {
			if err := h.c.Close(ctx, Close{AgentID: "agent-pan", Episode: "ep-" + form, Reason: "cleared " + form}); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
	}
	h.eventually("resumed", func() bool { return e.recording("agent-pan", recs[0]) })
	h.quiet()

	exportPath := filepath.Join(tmp, "audit.jsonl")
	f, err := os.Create(exportPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.Export(time.Time{}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	snap, _ := json.Marshal(h.c.Snapshot())
	calls, _ := json.Marshal(e.sim.Calls())
	h.stop() // closes the state file so every page is on disk

	var errText strings.Builder
	for _, err := range errs {
		if err != nil {
			errText.WriteString(err.Error() + "\n")
		}
	}
	sources := map[string][]byte{
		"controller log": []byte(h.logs.String()),
		"client log":     []byte(e.logs.String()),
		"errors":         []byte(errText.String()),
		"snapshot":       snap,
		"cxone calls":    calls,
		"webhook answer": answer.Bytes(),
	}
	for _, dir := range []string{tmp, filepath.Dir(h.path)} {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, rerr := os.ReadFile(path)
				if rerr == nil {
					sources[path] = b
				}
			}
			return nil
		})
	}
	if _, ok := sources[h.path]; !ok {
		t.Fatal("state file not scanned")
	}
	if _, ok := sources[exportPath]; !ok {
		t.Fatal("audit export not scanned")
	}
	for name, b := range sources {
		if len(b) == 0 && name != "errors" {
			t.Logf("%s is empty", name)
		}
		if hits := cardHits(b); len(hits) > 0 {
			t.Errorf("%s holds card data (%d test PANs)", name, len(hits))
		}
	}
	// The scan itself must be able to see a PAN.
	if len(cardHits([]byte("x "+spaced(testPANs[1], "-")+" y"))) != 1 {
		t.Fatal("scanner misses a dashed PAN")
	}
}
