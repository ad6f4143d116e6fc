package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"pcipause/daemon/audit"
	"pcipause/daemon/supervise"
)

// supervisor starts one session helper per interactive session (Windows: the service is in
// session 0 and launches pcipause-session into each user session; Linux: the desktop's
// autostart does it and the supervisor only says so) and audits what happens to them.
func (s *Server) supervisor(configPath string) (*supervise.Supervisor, error) {
	helper, err := helperPath()
	if err != nil {
		return nil, fmt.Errorf("supervise: %w", err)
	}
	var args []string
	if configPath != "" {
		args = []string{"--config", configPath}
	}
	return supervise.New(supervise.Options{HelperPath: helper, Args: args,
		OnEvent: func(ev supervise.Event) {
			r := audit.Record{Type: "helper_" + ev.Kind.String(), Detail: fmt.Sprintf("session %d (%s) user %s pid %d crashes %d",
				ev.Session.ID, ev.Session.Station, ev.Session.User, ev.PID, ev.Crashes)}
			if ev.Err != nil {
				r.Detail += ": " + ev.Err.Error()
			}
			if ev.Kind == supervise.EventGaveUp {
				s.log.Error("session helper keeps crashing: gave up until the next logon", "session", ev.Session.ID, "err", ev.Err)
			}
			s.audit(context.Background(), r)
		}}, s.log.With("component", "supervise"))
}

// helperPath is the installed session helper: pcipause-session next to the service's own
// executable.
func helperPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	name := "pcipause-session"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(filepath.Dir(exe), name), nil
}
