package cxonesim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a settable clock for purge, expiry and mask-delay tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func getToken(t *testing.T, s *Server, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func do(t *testing.T, s *Server, method, path, bearer, ctype, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestTokenEndpoint(t *testing.T) {
	s := start(t, Options{})
	s.AddClient("c1", "s1", ScopeRead)
	s.AddAccessKey("k1", "ks1", "u1")
	tests := []struct {
		name       string
		form       url.Values
		id, secret string
		want       int
		wantErr    string
		wantScope  string
	}{
		{"client credentials", url.Values{"grant_type": {"client_credentials"}}, "c1", "s1", 200, "", ScopeRead},
		{"requested scope intersected", url.Values{"grant_type": {"client_credentials"}, "scope": {ScopeRead + " " + ScopePause}}, "c1", "s1", 200, "", ScopeRead},
		{"only ungranted scope", url.Values{"grant_type": {"client_credentials"}, "scope": {ScopePause}}, "c1", "s1", 400, "invalid_scope", ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, "c1", "nope", 401, "invalid_client", ""},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, "zz", "s1", 401, "invalid_client", ""},
		{"password grant", url.Values{"grant_type": {"password"}, "username": {"k1"}, "password": {"ks1"}}, "c1", "s1", 200, "", PermMask},
		{"password grant wrong key secret", url.Values{"grant_type": {"password"}, "username": {"k1"}, "password": {"x"}}, "c1", "s1", 400, "invalid_grant", ""},
		{"unsupported grant", url.Values{"grant_type": {"implicit"}}, "c1", "s1", 400, "unsupported_grant_type", ""},
		{"missing grant", url.Values{}, "c1", "s1", 400, "invalid_request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, m := getToken(t, s, tc.form, tc.id, tc.secret)
			if code != tc.want {
				t.Fatalf("status %d, want %d (%v)", code, tc.want, m)
			}
			if tc.wantErr != "" && m["error"] != tc.wantErr {
				t.Errorf("error %v, want %s", m["error"], tc.wantErr)
			}
			if tc.wantScope != "" && m["scope"] != tc.wantScope {
				t.Errorf("scope %v, want %s", m["scope"], tc.wantScope)
			}
		})
	}
}

const (
	goodPause  = `{"reason":"PCI_DATA_DETECTED","metadata":{"pciField":"credit_card_number","detectionTimestamp":"2023-10-27T14:32:01.123Z","complianceRule":"PCI-DSS-Req-3.4"}}`
	goodResume = `{"reason":"PCI_DATA_CLEARED","metadata":{"clearTimestamp":"2023-10-27T14:32:05.456Z"}}`
)

func TestWEMRequestValidation(t *testing.T) {
	s := start(t, Options{})
	d := s.SeedDemo()
	_, m := getToken(t, s, url.Values{"grant_type": {"client_credentials"}}, d.ClientID, d.ClientSecret)
	bearer := m["access_token"].(string)
	pause := "/api/wem/v1/screen-recordings/" + d.RecordingID + "/pause"
	tests := []struct {
		name, ctype, body string
		want              int
		wantMsg           string
	}{
		{"not JSON", "application/json", `{"reason":`, 400, "malformed JSON"},
		{"unknown field", "application/json", `{"reason":"PCI_DATA_DETECTED","why":1,"metadata":{"detectionTimestamp":"2023-10-27T14:32:01.123Z"}}`, 400, "unknown field"},
		{"wrong content type", "text/plain", goodPause, 415, "Content-Type"},
		{"no reason", "application/json", `{"metadata":{"detectionTimestamp":"2023-10-27T14:32:01.123Z"}}`, 400, "reason"},
		{"no metadata", "application/json", `{"reason":"PCI_DATA_DETECTED"}`, 400, "metadata missing"},
		{"timestamp without millis", "application/json", `{"reason":"PCI_DATA_DETECTED","metadata":{"detectionTimestamp":"2023-10-27T14:32:01Z"}}`, 400, "milliseconds"},
		{"timestamp not UTC", "application/json", `{"reason":"PCI_DATA_DETECTED","metadata":{"detectionTimestamp":"2023-10-27T14:32:01.123+02:00"}}`, 400, "milliseconds"},
		{"clear timestamp on pause", "application/json", `{"reason":"PCI_DATA_DETECTED","metadata":{"detectionTimestamp":"2023-10-27T14:32:01.123Z","clearTimestamp":"2023-10-27T14:32:01.123Z"}}`, 400, "clearTimestamp"},
		{"card-like digits refused and not echoed", "application/json", `{"reason":"PCI_DATA_DETECTED","metadata":{"pciField":"4111111111111111","detectionTimestamp":"2023-10-27T14:32:01.123Z"}}`, 400, "digit run"},
		{"good", "application/json", goodPause, 200, `"status":"PAUSED"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := do(t, s, "PUT", pause, bearer, tc.ctype, tc.body)
			if code != tc.want || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.want, tc.wantMsg)
			}
			if strings.Contains(body, "4111") {
				t.Fatalf("response echoes card digits: %s", body)
			}
		})
	}
	for _, c := range s.Calls() {
		for _, v := range c.Metadata {
			if strings.Contains(v, "4111111111111111") {
				t.Fatalf("call log holds card digits")
			}
		}
	}
}

func TestPurgeAfterEnd(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := New(Options{Now: clk.now, PurgeAfter: time.Minute})
	id := s.StartRecording(s.StartInteraction("a"))
	s.EndRecording(id)
	if st, ok := s.RecordingStatus(id); !ok || st != Ended {
		t.Fatalf("after end: %q %v, want ENDED", st, ok)
	}
	clk.t = clk.t.Add(time.Minute)
	if _, ok := s.RecordingStatus(id); ok {
		t.Fatal("ended recording not purged after PurgeAfter")
	}
}

func TestMaskDelaySettles(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := New(Options{Now: clk.now, MaskDelay: time.Second})
	in := s.StartInteraction("u")
	s.StartRecording(in)
	s.mu.Lock()
	call := s.latestCall("u")
	call.pendingMask, call.pendingUntil = true, clk.t.Add(time.Second)
	s.mu.Unlock()
	if s.Masked("u") {
		t.Fatal("masked before the delay passed")
	}
	clk.t = clk.t.Add(time.Second)
	if !s.Masked("u") {
		t.Fatal("not masked after the delay")
	}
	iv := s.PausedIntervals("u")
	if len(iv) != 1 || !iv[0].End.IsZero() {
		t.Fatalf("intervals %v, want one open", iv)
	}
	s.EndInteraction(in)
	if iv := s.PausedIntervals("u"); len(iv) != 1 || iv[0].End.IsZero() {
		t.Fatalf("intervals %v, want closed at interaction end", iv)
	}
}
