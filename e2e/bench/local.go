//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"pcipause/e2e/xenv"
)

// local is a running `pcipause local` (simulator, service and session helper) on the bench's
// display.
type local struct {
	cmd         *exec.Cmd
	Control     string // simulator control API
	RecordingID string
	LogFile     string
	StateDir    string
	Socket      string
	Config      string
}

// startLocal runs `pcipause local` with extra flags (e.g. --unprotected, --api-latency) and
// waits until masking is live. dir receives its state and log.
func startLocal(ctx context.Context, bin string, env *xenv.Env, dir string, extra ...string) (*local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready")
	os.Remove(ready)
	args := append([]string{"local", "--ready-file", ready, "--no-tray", "--state-dir", filepath.Join(dir, "state")}, extra...)
	cmd := env.Command(context.WithoutCancel(ctx), filepath.Join(bin, "pcipause"), args...)
	cmd.WaitDelay = 5 * time.Second
	logf, err := os.Create(filepath.Join(dir, "local.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("pcipause local: %w", err)
	}
	logf.Close()
	l := &local{cmd: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		l.Stop()
		return nil, fmt.Errorf("pcipause local: no info line (see %s): %w", filepath.Join(dir, "local.log"), err)
	}
	var info struct {
		ControlURL  string `json:"control_url"`
		RecordingID string `json:"recording_id"`
		LogFile     string `json:"log_file"`
		StateDir    string `json:"state_dir"`
		Socket      string `json:"socket"`
		Config      string `json:"config"`
	}
	if err := json.Unmarshal([]byte(line), &info); err != nil || info.ControlURL == "" {
		l.Stop()
		return nil, fmt.Errorf("pcipause local: bad info line: %v", err)
	}
	l.Control, l.RecordingID, l.LogFile, l.StateDir, l.Socket, l.Config =
		info.ControlURL, info.RecordingID, info.LogFile, info.StateDir, info.Socket, info.Config
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return l, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			l.Stop()
			return nil, fmt.Errorf("pcipause local: masking never went live (see %s)", filepath.Join(dir, "local.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits (SIGKILL after 10 s).
func (l *local) Stop() {
	if l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = l.cmd.Process.Kill()
		<-done
	}
}

// simCall is one call in the simulator's call log.
type simCall struct {
	Time   time.Time `json:"time"`
	Op     string    `json:"op"`
	Target string    `json:"target"`
	Status int       `json:"status"`
}

// Calls returns the simulator's call log.
func (l *local) Calls() ([]simCall, error) {
	var body struct {
		Calls []simCall `json:"calls"`
	}
	return body.Calls, getJSON(l.Control+"/calls", &body)
}

// interval is a span during which the simulator held the demo recording paused (End is zero
// while it still is).
type interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Paused returns the demo recording's paused intervals.
func (l *local) Paused() ([]interval, error) {
	var body struct {
		Intervals []interval `json:"intervals"`
	}
	return body.Intervals, getJSON(l.Control+"/intervals?target="+l.RecordingID, &body)
}

func getJSON(url string, v any) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
