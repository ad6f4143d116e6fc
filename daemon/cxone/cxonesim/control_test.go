package cxonesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func bearerFor(t *testing.T, s *Server, d Demo) string {
	t.Helper()
	_, m := getToken(t, s, url.Values{"grant_type": {"client_credentials"}}, d.ClientID, d.ClientSecret)
	return m["access_token"].(string)
}

// TestControlAPI drives the documented /sim/ endpoints over HTTP in order.
func TestControlAPI(t *testing.T) {
	s := start(t, Options{TLS: true})
	steps := []struct {
		method, path, body string
		want               int
		wantBody           string
	}{
		{"POST", "/sim/agents", `{"id":"agent-7"}`, 201, `"id":"agent-7"`},
		{"POST", "/sim/agents", `{"id":""}`, 400, "id missing"},
		{"POST", "/sim/agents", `{"id":"x","extra":1}`, 400, "unknown field"},
		{"POST", "/sim/interactions", `{"agentId":"agent-7"}`, 201, `"id":"int-1"`},
		{"POST", "/sim/recordings", `{"interactionId":"int-1"}`, 201, `"id":"rec-2"`},
		{"POST", "/sim/recordings", `{"interactionId":"int-1"}`, 201, `"id":"rec-3"`},
		{"POST", "/sim/recordings", `{"interactionId":"int-404"}`, 404, "no open interaction"},
		{"GET", "/sim/recordings/rec-2", ``, 200, `"status":"RECORDING"`},
		{"POST", "/sim/recordings/rec-2/end", ``, 200, `"status":"ENDED"`},
		{"POST", "/sim/recordings/rec-2/end", ``, 404, "no active recording"},
		{"POST", "/sim/interactions/int-1/end", ``, 200, `"status":"CLOSED"`},
		{"GET", "/sim/recordings/rec-3", ``, 200, `"status":"ENDED"`},
		{"PUT", "/sim/faults", `{"latency":"150ms","latency_max":"400ms"}`, 200, `"latency_max":"400ms"`},
		{"PUT", "/sim/faults", `{"latency":"5ms","latency_max":"1ms"}`, 400, "latency_max"},
		{"PUT", "/sim/faults", `{"latency":"1ms","next_429":2,"retry_after":"3s"}`, 200, `"next_429":2`},
		{"PUT", "/sim/faults", `{"latency":"soon"}`, 400, "latency"},
		{"PUT", "/sim/faults", `{"error_rate":2}`, 400, "within [0,1]"},
		{"GET", "/sim/faults", ``, 200, `"retry_after":"3s"`},
		{"PUT", "/sim/faults", `{}`, 200, `{}`},
		{"PUT", "/sim/ratelimit", `{"rate":5,"burst":0}`, 400, "burst"},
		{"PUT", "/sim/ratelimit", `{"rate":5,"burst":10}`, 200, `"burst":10`},
		{"POST", "/sim/clients", `{"id":"c9","secret":"s9","scopes":["wem.recording.read"]}`, 201, `"id":"c9"`},
		{"POST", "/sim/access-keys", `{"id":"k9","secret":"ks9","userId":"agent-7"}`, 201, `"id":"k9"`},
		{"POST", "/sim/webhooks", `{"url":"http://127.0.0.1:1/hook"}`, 400, "secret"},
		{"GET", "/sim/intervals?target=rec-2", ``, 200, `"intervals":[]`},
		{"GET", "/sim/intervals", ``, 400, "target"},
		{"GET", "/sim/calls", ``, 200, `"calls":[]`},
		{"POST", "/sim/tokens/expire", ``, 204, ``},
		{"DELETE", "/sim/calls", ``, 204, ``},
		{"GET", "/sim/webhooks/deliveries", ``, 200, `"deliveries":[]`},
	}
	for _, st := range steps {
		code, body, _ := do(t, s, st.method, st.path, "", "application/json", st.body)
		if code != st.want || !strings.Contains(body, st.wantBody) {
			t.Errorf("%s %s %s: got %d %s, want %d containing %q", st.method, st.path, st.body, code, body, st.want, st.wantBody)
		}
	}
	if _, m := getToken(t, s, url.Values{"grant_type": {"client_credentials"}}, "c9", "s9"); m["scope"] != ScopeRead {
		t.Errorf("client added over the control API got scope %v", m["scope"])
	}
}

func TestDiscoveryDocuments(t *testing.T) {
	s := start(t, Options{TenantID: "t-1"})
	tests := []struct {
		path, want string
		code       int
	}{
		{"/.well-known/openid-configuration", `"token_endpoint":"` + s.TokenURL() + `"`, 200},
		{"/.well-known/cxone-configuration?tenantId=t-1", `"api_endpoint":"` + s.URL() + `"`, 200},
		{"/.well-known/cxone-configuration?tenantId=t-2", "unknown tenant", 404},
		{"/.well-known/cxone-configuration", "tenantId", 400},
	}
	for _, tc := range tests {
		code, body, _ := do(t, s, "GET", tc.path, "", "", "")
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %s, want %d containing %s", tc.path, code, body, tc.code, tc.want)
		}
	}
}

// TestAPIAuthAndQueries covers bearer handling and the query validation of list and mask.
func TestAPIAuthAndQueries(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := start(t, Options{Now: clk.now, RateLimit: -1})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	_, mk := getToken(t, s, url.Values{"grant_type": {"password"}, "username": {d.AccessKeyID}, "password": {d.AccessKeySecret}}, d.ClientID, d.ClientSecret)
	maskBearer := mk["access_token"].(string)
	list := "/api/wem/v1/screen-recordings"
	mask := "/interaction-recording-management-service/v1/interactions"
	tests := []struct {
		name, method, path, bearer string
		want                       int
		wantBody                   string
	}{
		{"no bearer", "GET", list + "?agentId=" + d.AgentID, "", 401, "missing bearer"},
		{"unknown bearer", "GET", list + "?agentId=" + d.AgentID, "nope", 401, "unknown bearer"},
		{"list", "GET", list + "?agentId=" + d.AgentID + "&status=RECORDING", bearer, 200, `"id":"` + d.RecordingID + `"`},
		{"list PAUSED empty", "GET", list + "?agentId=" + d.AgentID + "&status=PAUSED", bearer, 200, `"recordings":[]`},
		{"list without agent", "GET", list, bearer, 400, "agentId"},
		{"list bad status", "GET", list + "?agentId=a&status=paused", bearer, 400, "status must be"},
		{"list unknown param", "GET", list + "?agentId=a&limit=5", bearer, 400, "unknown query parameter"},
		{"wem token on mask API", "GET", mask + "/get-recording-status?userId=" + d.AgentID, bearer, 403, "mask.api"},
		{"mask token on wem API", "GET", list + "?agentId=a", maskBearer, 403, ScopeRead},
		{"mask status", "GET", mask + "/get-recording-status?userId=" + d.AgentID, maskBearer, 200, `"recordingStatus":"Recording"`},
		{"mask without user", "POST", mask + "/mask", maskBearer, 400, "userId"},
		{"mask unknown user", "POST", mask + "/mask?userId=ghost", maskBearer, 404, "no active interaction"},
	}
	for _, tc := range tests {
		code, body, _ := do(t, s, tc.method, tc.path, tc.bearer, "", "")
		if code != tc.want || !strings.Contains(body, tc.wantBody) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, code, body, tc.want, tc.wantBody)
		}
	}
	clk.t = clk.t.Add(time.Hour)
	if code, body, hdr := do(t, s, "GET", list+"?agentId=a", bearer, "", ""); code != 401 || !strings.Contains(body, "expired") ||
		!strings.Contains(hdr.Get("Www-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %d %s", code, body)
	}
}

func TestOrgRateLimitRetryAfter(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := start(t, Options{Now: clk.now, RateLimit: 0.5, RateBurst: 2})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	path := "/api/wem/v1/screen-recordings/" + d.RecordingID
	var codes []int
	var retry string
	for range 3 {
		code, _, hdr := do(t, s, "GET", path, bearer, "", "")
		codes = append(codes, code)
		if code == 429 {
			retry = hdr.Get("Retry-After")
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || retry != "2" {
		t.Fatalf("codes %v Retry-After %q, want 200 200 429 with 2 (one token per 2s)", codes, retry)
	}
	clk.t = clk.t.Add(2 * time.Second)
	if code, _, _ := do(t, s, "GET", path, bearer, "", ""); code != 200 {
		t.Fatalf("after Retry-After: %d", code)
	}
	var limited int
	for _, c := range s.Calls() {
		if c.Fault == "ratelimit" {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("%d calls logged as rate limited, want 1", limited)
	}
}

func TestFaultInjection(t *testing.T) {
	s := start(t, Options{RateLimit: -1, Seed: 7})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	path := "/api/wem/v1/screen-recordings/" + d.RecordingID
	s.SetFaults(Faults{ErrorRate: 1})
	for range 3 {
		if code, _, hdr := do(t, s, "GET", path, bearer, "", ""); code != 503 || hdr.Get("Retry-After") != "1" {
			t.Fatalf("error_rate 1: %d", code)
		}
	}
	s.SetFaults(Faults{Next429: 1, Next5xx: 1, RetryAfter: 4 * time.Second})
	want := []int{503, 429, 200}
	for i, w := range want {
		code, _, hdr := do(t, s, "GET", path, bearer, "", "")
		if code != w || (w != 200 && hdr.Get("Retry-After") != "4") {
			t.Errorf("call %d: %d Retry-After %q, want %d", i, code, hdr.Get("Retry-After"), w)
		}
	}
	s.SetFaults(Faults{NextResets: 1})
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	// Faults stay off the token endpoint unless asked for.
	s.SetFaults(Faults{ErrorRate: 1})
	if code, _ := getToken(t, s, url.Values{"grant_type": {"client_credentials"}}, d.ClientID, d.ClientSecret); code != 200 {
		t.Errorf("token endpoint faulted without TokenToo: %d", code)
	}
	s.SetFaults(Faults{ErrorRate: 1, TokenToo: true})
	if code, _ := getToken(t, s, url.Values{"grant_type": {"client_credentials"}}, d.ClientID, d.ClientSecret); code != 503 {
		t.Errorf("token endpoint with TokenToo: %d, want 503", code)
	}
	var faults []string
	for _, c := range s.Calls() {
		faults = append(faults, c.Fault)
	}
	if got := strings.Join(faults, ","); !strings.HasPrefix(got, ",5xx,5xx,5xx,5xx,429,,reset,,5xx") {
		t.Errorf("fault log %q", got)
	}
}

// TestCallLoggedBeforeAnswer: a caller that has its answer, or its reset, finds the call in
// the log. The simulator once logged a reset call only after closing the connection, so a
// caller quick enough to make its next call saw the two logged in the wrong order. The hook
// holds each call's log entry until the caller has looked (or half a second has passed):
// logged too late, the entry is missing when the caller looks.
func TestCallLoggedBeforeAnswer(t *testing.T) {
	s := start(t, Options{RateLimit: -1})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	path := "/api/wem/v1/screen-recordings/" + d.RecordingID
	looked := make(chan struct{}, 1)
	s.beforeLog = func(Call) {
		select {
		case <-looked:
		case <-time.After(500 * time.Millisecond):
		}
	}
	logged := func(fault string) bool {
		defer func() { looked <- struct{}{} }()
		calls := s.Calls()
		return len(calls) > 0 && calls[len(calls)-1].Fault == fault && calls[len(calls)-1].Op == "get"
	}
	for _, fault := range []string{"reset", "5xx", ""} {
		switch fault {
		case "reset":
			s.SetFaults(Faults{NextResets: 1})
		case "5xx":
			s.SetFaults(Faults{Next5xx: 1})
		default:
			s.SetFaults(Faults{})
		}
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) == (fault == "reset") {
			t.Fatalf("fault %q: answer %v, error %v", fault, resp, err)
		}
		if !logged(fault) {
			t.Errorf("fault %q: the caller had its answer before the call was logged", fault)
		}
		// Drain the signal a call logged on time never took.
		select {
		case <-looked:
		default:
		}
	}
}

// TestDelayedCallAbandoned: a call whose client gives up during the injected latency is
// dropped unapplied, so a timed-out pause never lands behind the caller's back.
func TestDelayedCallAbandoned(t *testing.T) {
	s := start(t, Options{RateLimit: -1})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	s.SetFaults(Faults{Latency: time.Minute})
	req, _ := http.NewRequest("PUT", s.URL()+"/api/wem/v1/screen-recordings/"+d.RecordingID+"/pause",
		strings.NewReader(`{"reason":"PCI","requestedBy":"pcipause"}`))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a call delayed by a minute answered %d within the client's timeout", resp.StatusCode)
	}
	s.SetFaults(Faults{})
	var fault string
	deadline := time.Now().Add(10 * time.Second)
	for fault == "" && time.Now().Before(deadline) {
		for _, c := range s.Calls() {
			if c.Op == "pause" {
				fault = c.Fault
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fault != "latency-abandoned" {
		t.Errorf("call log fault %q, want latency-abandoned", fault)
	}
	if st, _ := s.RecordingStatus(d.RecordingID); st != Recording {
		t.Errorf("recording %s after an abandoned pause, want %s", st, Recording)
	}
}

// TestAbandonedCallGetsNoAnswer: a dropped call is not answered at all. A handler that just
// returns makes net/http send an empty 200, and a client whose timeout fired as the server
// noticed its hang-up could read that 200 and believe an unapplied pause had landed (CI saw
// a timed-out pause come back as success this way). Half-closing the connection makes the
// server notice the hang-up while the client can still read.
func TestAbandonedCallGetsNoAnswer(t *testing.T) {
	s := start(t, Options{RateLimit: -1})
	d := s.SeedDemo()
	bearer := bearerFor(t, s, d)
	s.SetFaults(Faults{Latency: time.Minute})
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"reason":"PCI","requestedBy":"pcipause"}`
	fmt.Fprintf(conn, "PUT /api/wem/v1/screen-recordings/%s/pause HTTP/1.1\r\nHost: %s\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		d.RecordingID, u.Host, bearer, len(body), body)
	time.Sleep(50 * time.Millisecond) // the server has read the request and is delaying it
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	if len(got) > 0 {
		line, _, _ := strings.Cut(string(got), "\r\n")
		t.Errorf("an abandoned call was answered %q, want the connection closed unanswered", line)
	}
	if st, _ := s.RecordingStatus(d.RecordingID); st != Recording {
		t.Errorf("recording %s after an abandoned pause, want %s", st, Recording)
	}
}

// TestWebhookSignedAndRetried: deliveries carry a valid HMAC over "timestamp.body" and are
// retried after a 5xx but not after a 4xx.
func TestWebhookSignedAndRetried(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	answers := []int{500, 204}
	secret := "hook-secret-0123456789"
	done := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(HeaderTimestamp)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(b)))
		if r.Header.Get(HeaderSignature) != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("bad signature")
		}
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		code := answers[0]
		answers = answers[1:]
		w.WriteHeader(code)
		if len(answers) == 0 {
			close(done)
		}
	}))
	defer recv.Close()
	s := start(t, Options{})
	s.RegisterWebhook(recv.URL, secret)
	in := s.StartInteraction("a")
	id := s.StartRecording(in)
	s.EndRecording(id)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("webhook not retried to success")
	}
	s.Close()
	var ev EndedEvent
	dec := json.NewDecoder(strings.NewReader(bodies[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Event != EventEnded || ev.RecordingID != id || ev.InteractionID != in || ev.AgentID != "a" {
		t.Fatalf("event %+v %v", ev, err)
	}
	del := s.Deliveries()
	if len(del) != 2 || del[0].Status != 500 || del[1].Status != 204 {
		t.Errorf("deliveries %+v, want 500 then 204", del)
	}
}
