package doctor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/doctor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sim(t *testing.T) (*cxonesim.Server, cxonesim.Demo) {
	t.Helper()
	s := cxonesim.New(cxonesim.Options{TLS: true, RateLimit: -1})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, s.SeedDemo()
}

func options(s *cxonesim.Server, d cxonesim.Demo, backend string) cxone.Options {
	o := cxone.Options{Backend: backend, ClientID: d.ClientID, ClientSecret: d.ClientSecret, HTTPClient: s.Client(),
		DiscoveryURL: s.URL()}
	if backend == cxone.BackendMask {
		o.AccessKeyID, o.AccessKeySecret, o.TenantID = d.AccessKeyID, d.AccessKeySecret, s.TenantID()
	} else {
		o.BaseURL, o.TokenURL = s.BaseURL(), s.TokenURL()
	}
	return o
}

// lines maps each check name to its outcome and text.
func lines(out string) map[string]string {
	m := map[string]string{}
	re := regexp.MustCompile(`^(PASS|FAIL|SKIP)  (.{28}) (.*)$`)
	for _, l := range strings.Split(out, "\n") {
		if g := re.FindStringSubmatch(l); g != nil {
			m[strings.TrimSpace(g[2])] = g[1] + " " + g[3]
		}
	}
	return m
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		mod     func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input)
		want    map[string]string // check -> prefix of "OUTCOME text"
		wantErr bool
	}{
		{"wem-v1 all pass", cxone.BackendWEMv1, nil, map[string]string{
			"config": "PASS", "credential": "PASS", "options": "PASS", "reachability": "PASS",
			"tls": "PASS TLS 1.3", "clock skew": "PASS", "token": "PASS token obtained with scope wem.recording.pause wem.recording.control wem.recording.read",
			"scope wem.recording.pause": "PASS", "scope wem.recording.control": "PASS", "scope wem.recording.read": "PASS",
			"recordings": "PASS agent agent-1001: 1 active: rec-2 (interaction int-1)",
		}, false},
		{"cxone-mask all pass", cxone.BackendMask, nil, map[string]string{
			"token": "PASS", "mask permission": "PASS", "recordings": "PASS agent agent-1001: 1 active: agent-1001 (interaction int-1)",
		}, false},
		{"client missing a scope", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			s.AddClient("no-control", "no-control-secret", cxone.ScopePause, cxone.ScopeRead)
			in.Options.ClientID, in.Options.ClientSecret = "no-control", "no-control-secret"
			in.Options.Scopes = []string{cxone.ScopePause, cxone.ScopeRead}
		}, map[string]string{
			"token":                       "PASS",
			"scope wem.recording.pause":   "PASS",
			"scope wem.recording.control": "FAIL the OAuth client lacks wem.recording.control",
			"scope wem.recording.read":    "PASS",
		}, true},
		{"token lacks a scope the client requests", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			s.AddClient("no-read", "no-read-secret", cxone.ScopePause, cxone.ScopeControl)
			in.Options.ClientID, in.Options.ClientSecret = "no-read", "no-read-secret"
		}, map[string]string{
			"scope wem.recording.read": "FAIL the OAuth client lacks wem.recording.read",
			"recordings":               "FAIL",
		}, true},
		{"wrong secret", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.Options.ClientSecret = "definitely-wrong"
		}, map[string]string{
			"reachability": "PASS", "token": "FAIL cxone token: HTTP 401: unauthorized: invalid_client",
			"scope wem.recording.pause": "", "scopes": "SKIP",
		}, true},
		{"mask wrong access key secret", cxone.BackendMask, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.Options.AccessKeySecret = "definitely-wrong"
		}, map[string]string{"token": "FAIL cxone token: HTTP 400: unauthorized: invalid_grant"}, true},
		{"mask missing permission", cxone.BackendMask, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			s.AddAccessKey("weak", "weak-secret", d.AgentID, "other.permission")
			in.Options.AccessKeyID, in.Options.AccessKeySecret = "weak", "weak-secret"
		}, map[string]string{"mask permission": "FAIL the API user lacks the Search and Playback > API > Multi-ACD Mask API permission"}, true},
		{"config broken", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.ConfigErr = errors.New("config: line 3: cxone.backend: unknown backend")
		}, map[string]string{"config": "FAIL config: line 3", "credential": "SKIP", "token": "SKIP"}, true},
		{"credential missing", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.CredentialErr = errors.New("credential: no credential stored")
		}, map[string]string{"config": "PASS", "credential": "FAIL credential: no credential stored", "token": "SKIP"}, true},
		{"mask access key secret empty", cxone.BackendMask, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.Options.AccessKeySecret = ""
		}, map[string]string{"credential": "FAIL access key secret is empty"}, true},
		{"clock skew", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		}, map[string]string{"clock skew": "FAIL this clock is 2m", "token": "PASS"}, true},
		{"no agent", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.AgentID = ""
		}, map[string]string{"recordings": "SKIP no agent given"}, false},
		{"bad options", cxone.BackendWEMv1, func(s *cxonesim.Server, d cxonesim.Demo, in *doctor.Input) {
			in.Options.BaseURL = "http://cxone.example.com/api/wem/v1"
		}, map[string]string{"options": "FAIL cxone options: base_url", "token": "SKIP"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, d := sim(t)
			in := doctor.Input{ConfigPath: "/etc/pcipause/pcipause.toml", Options: options(s, d, tc.backend), AgentID: d.AgentID}
			if tc.mod != nil {
				tc.mod(s, d, &in)
			}
			var out bytes.Buffer
			err := doctor.Run(context.Background(), in, &out)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, doctor.ErrFailed)) {
				t.Errorf("Run error %v, want failure %v\n%s", err, tc.wantErr, out.String())
			}
			got := lines(out.String())
			for check, prefix := range tc.want {
				if prefix == "" {
					if _, ok := got[check]; ok {
						t.Errorf("check %q ran, want it skipped", check)
					}
					continue
				}
				if !strings.HasPrefix(got[check], prefix) {
					t.Errorf("check %q = %q, want prefix %q\n%s", check, got[check], prefix, out.String())
				}
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, "FAIL") && !strings.Contains(l, "fix:") {
					t.Errorf("FAIL without a fix: %s", l)
				}
			}
			for _, secret := range []string{d.ClientSecret, d.AccessKeySecret, "definitely-wrong", "weak-secret", "no-control-secret"} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("output holds a secret")
				}
			}
		})
	}
}

func TestDoctorRefusesTLS11(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	in := doctor.Input{Options: cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: srv.URL, TokenURL: srv.URL + "/token",
		ClientID: "c", ClientSecret: "s", HTTPClient: srv.Client()}}
	var out bytes.Buffer
	if err := doctor.Run(context.Background(), in, &out); err == nil {
		t.Fatalf("doctor passed against a TLS 1.1 server:\n%s", out.String())
	}
	if got := lines(out.String())["reachability"]; !strings.HasPrefix(got, "FAIL") || !strings.Contains(got, "TLS 1.2") {
		t.Errorf("reachability = %q, want a FAIL naming TLS 1.2", got)
	}
}

// TestDoctorWrongBasePath: a base_url that misses the API answers every probe with 404; the
// read probe's list must fail so the doctor does not pass a broken config.
func TestDoctorWrongBasePath(t *testing.T) {
	s, d := sim(t)
	o := options(s, d, cxone.BackendWEMv1)
	o.BaseURL = s.URL() + "/api/wem/v9"
	var out bytes.Buffer
	if err := doctor.Run(context.Background(), doctor.Input{Options: o}, &out); err == nil {
		t.Fatalf("doctor passed with a wrong base path:\n%s", out.String())
	}
	if got := lines(out.String())["scope wem.recording.read"]; !strings.HasPrefix(got, "FAIL") {
		t.Errorf("read probe = %q, want FAIL", got)
	}
}
