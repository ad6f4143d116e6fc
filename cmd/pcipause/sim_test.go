package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pcipause/daemon/cxone"
)

// startSimCommand runs `pcipause sim args...` in-process and returns its JSON line and a stop
// function that cancels it (as SIGINT would) and returns its error.
func startSimCommand(t *testing.T, args ...string) (simInfo, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		err := run(ctx, append([]string{"sim"}, args...), pw, &stderr)
		pw.CloseWithError(fmt.Errorf("sim returned: %v", err))
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no JSON line: %v; stderr: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	var info simInfo
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		cancel()
		t.Fatalf("line %q: %v", line, err)
	}
	return info, func() error { cancel(); return <-done }
}

func TestSimCommand(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			var args []string
			if tlsOn {
				args = append(args, "--tls")
			}
			info, stop := startSimCommand(t, args...)
			for name, v := range map[string]string{"base_url": info.BaseURL, "token_url": info.TokenURL, "client_id": info.ClientID,
				"client_secret": info.ClientSecret, "agent_id": info.AgentID, "interaction_id": info.InteractionID,
				"recording_id": info.RecordingID, "control_url": info.ControlURL, "discovery_url": info.DiscoveryURL,
				"access_key_id": info.AccessKeyID, "access_key_secret": info.AccessKeySecret, "user_id": info.UserID} {
				if v == "" {
					t.Errorf("%s empty", name)
				}
			}
			if tlsOn != (info.CAFile != "") || tlsOn != strings.HasPrefix(info.BaseURL, "https://") {
				t.Errorf("tls %v but ca_file %q base_url %q", tlsOn, info.CAFile, info.BaseURL)
			}
			// The printed values are enough for both back ends to work.
			for _, o := range []cxone.Options{
				{Backend: cxone.BackendWEMv1, BaseURL: info.BaseURL, TokenURL: info.TokenURL, ClientID: info.ClientID, ClientSecret: info.ClientSecret, CAFile: info.CAFile},
				{Backend: cxone.BackendMask, DiscoveryURL: info.DiscoveryURL, TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
					AccessKeyID: info.AccessKeyID, AccessKeySecret: info.AccessKeySecret, CAFile: info.CAFile},
			} {
				c, err := cxone.NewClient(o, nil)
				if err != nil {
					t.Fatal(err)
				}
				ts, err := c.ListActive(context.Background(), info.AgentID)
				c.Close()
				if err != nil || len(ts) != 1 || ts[0].InteractionID != info.InteractionID {
					t.Errorf("%s ListActive = %+v, %v", o.Backend, ts, err)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("sim after interrupt: %v", err)
			}
			if info.CAFile != "" {
				if _, err := os.Stat(info.CAFile); !os.IsNotExist(err) {
					t.Errorf("ca_file left behind: %v", err)
				}
			}
		})
	}
}

func TestSimCommandRefusesRemoteAddr(t *testing.T) {
	err := run(context.Background(), []string{"sim", "--addr", "0.0.0.0:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("error %v, want a loopback refusal", err)
	}
}

// TestDoctorCommand runs `pcipause doctor` against the simulator through a real config file:
// exit 0 when all pass, exit 1 naming the problem with a wrong secret.
func TestDoctorCommand(t *testing.T) {
	info, stop := startSimCommand(t, "--tls")
	defer stop()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	config := func(secretFile string) string {
		return write("pcipause.toml", fmt.Sprintf(`version = 1
[cxone]
backend = "wem-v1"
base_url = %q
token_url = %q
client_id = %q
ca_file = %q
client_secret_file = %q
[paths]
state_dir = %q
log_dir = %q
socket = %q
credential = %q
`, info.BaseURL, info.TokenURL, info.ClientID, info.CAFile, secretFile, dir, dir, filepath.Join(dir, "ipc.sock"), filepath.Join(dir, "cred")))
	}
	tests := []struct {
		name     string
		secret   string
		wantCode int
		want     []string
	}{
		{"all pass", info.ClientSecret, 0, []string{"PASS  token", "PASS  scope wem.recording.read", "PASS  recordings                   agent " + info.AgentID + ": 1 active: " + info.RecordingID}},
		{"wrong secret", "not-the-secret", 1, []string{"FAIL  token", "invalid_client", "fix: check client_id and the stored client secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(write("secret", tc.secret+"\n"))
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{"doctor", "--config", cfg, "--agent", info.AgentID}, &out, &errb)
			code := 0
			if ee, ok := err.(*exitError); ok {
				code = ee.code
			} else if err != nil {
				t.Fatalf("doctor: %v\n%s%s", err, out.String(), errb.String())
			}
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String()+errb.String(), info.ClientSecret) {
				t.Error("doctor printed the secret")
			}
		})
	}
}
