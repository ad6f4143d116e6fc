package svcctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

func (c *Controller) init() error {
	if c.opts.Root != "" {
		return fmt.Errorf("an install root is supported on linux only, not on %s", "windows")
	}
	if c.opts.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
		c.opts.Exe = exe
	}
	if !filepath.IsAbs(c.opts.Exe) {
		return fmt.Errorf("executable path %q is not absolute", c.opts.Exe)
	}
	s, err := service.New(noProgram{}, kardianosConfig(c.opts.Exe, Arguments(c.opts.ConfigPath)))
	if err != nil {
		return err
	}
	c.svc = s
	return nil
}

func (c *Controller) exe() string { return c.opts.Exe }

// install registers the service; x/sys/windows/svc/mgr quotes the image path, so a path with
// spaces (Program Files) cannot be hijacked by C:\Program.exe.
func (c *Controller) install(ctx context.Context) error {
	if err := c.svc.Install(); err != nil {
		return err
	}
	return c.applyRecovery(ctx)
}

func (c *Controller) uninstall(context.Context) error {
	if st, err := c.svc.Status(); err == nil && st == service.StatusRunning {
		if err := c.svc.Stop(); err != nil {
			c.log.Warn("stop before uninstall failed", "err", err)
		}
	}
	return c.svc.Uninstall()
}

func (c *Controller) control(_ context.Context, action string) error {
	return service.Control(c.svc, action)
}

// recovery restarts the service after every failure, backing off a little; the failure count
// resets after a day.
var recovery = []mgr.RecoveryAction{
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
	{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
}

func (c *Controller) applyRecovery(context.Context) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return err
	}
	defer s.Close()
	steps := []struct {
		what string
		do   func() error
	}{
		{"delayed automatic start", func() error {
			cfg, err := s.Config()
			if err != nil {
				return err
			}
			if cfg.DelayedAutoStart {
				return nil
			}
			cfg.DelayedAutoStart = true
			return s.UpdateConfig(cfg)
		}},
		{"restart on failure", func() error { return s.SetRecoveryActions(recovery, 86400) }},
		// A clean exit with an error code (the runtime failed) counts as a failure too.
		{"restart on non-crash failure", func() error { return s.SetRecoveryActionsOnNonCrashFailures(true) }},
	}
	for _, st := range steps {
		err := st.do()
		// Wine's service manager lacks some ChangeServiceConfig2 levels; Windows has them all
		// since Vista. Not fatal: the service still runs, it only is not restarted.
		if errors.Is(err, windows.ERROR_INVALID_LEVEL) || errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED) {
			c.log.Warn("service manager cannot set this; skipped", "setting", st.what, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

func (c *Controller) state(context.Context) (State, error) { return mapStatus(c.svc.Status()) }

// run hands the process to the SCM. kardianos decides "service or console" with
// svc.IsWindowsService, which is false under Wine's services.exe, so `pcipause service` always
// tries the dispatcher and only a process the SCM did not start falls through to an error.
func run(ctx context.Context, log *slog.Logger, fn func(context.Context) error) error {
	h := &handler{ctx: ctx, log: log, fn: fn}
	err := svc.Run(Name, h)
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
		return fmt.Errorf("not started by the service control manager (run `pcipause service --foreground` in a console): %w", err)
	}
	if err != nil {
		return fmt.Errorf("service dispatcher: %w", err)
	}
	return h.result()
}

// handler is the SCM control handler: Running at once, fn on its own goroutine, Stop and
// Shutdown cancel fn's context and wait for it.
type handler struct {
	ctx context.Context
	log *slog.Logger
	fn  func(context.Context) error

	mu  sync.Mutex
	err error
}

func (h *handler) result() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.fn(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	h.log.Info("service running")
	for {
		select {
		case err := <-done:
			// fn ended on its own: a failure exits non-zero so the recovery actions restart us.
			return h.finish(err, status)
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				h.log.Info("service stop requested", "cmd", r.Cmd)
				status <- svc.Status{State: svc.StopPending}
				cancel()
				return h.finish(<-done, status)
			}
		}
	}
}

func (h *handler) finish(err error, status chan<- svc.Status) (bool, uint32) {
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
	if err != nil {
		h.log.Error("service failed", "err", err)
		status <- svc.Status{State: svc.StopPending}
		return true, 1
	}
	status <- svc.Status{State: svc.StopPending}
	return false, 0
}
