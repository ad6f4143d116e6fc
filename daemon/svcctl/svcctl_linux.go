package svcctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
)

// unitDir is where the system unit lives, below Root.
const unitDir = "etc/systemd/system"

// systemdRunning reports whether systemd is PID 1 — the check sd_booted(3) documents.
func systemdRunning() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

func (c *Controller) init() error {
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
	if c.opts.Root != "" || !systemdRunning() {
		return nil // offline: we write the unit and enable it ourselves
	}
	service.ChooseSystem(systemdSystem())
	s, err := service.New(noProgram{}, kardianosConfig(c.opts.Exe, Arguments(c.opts.ConfigPath)))
	if err != nil {
		return err
	}
	c.svc = s
	return nil
}

// systemdSystem is kardianos's systemd implementation, chosen outright: we decided with
// sd_booted's test above, and kardianos's own heuristics must not turn the unit into a SysV
// script.
func systemdSystem() service.System {
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			return forced{s}
		}
	}
	return service.ChosenSystem()
}

type forced struct{ service.System }

func (forced) Detect() bool { return true }

func (c *Controller) exe() string { return c.opts.Exe }

func (c *Controller) root() string {
	if c.opts.Root == "" {
		return "/"
	}
	return c.opts.Root
}

func (c *Controller) unitPath() string {
	return filepath.Join(c.root(), unitDir, Name+".service")
}

func (c *Controller) install(ctx context.Context) error {
	if c.svc != nil {
		return c.svc.Install()
	}
	path := c.unitPath()
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("unit %s already exists", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	unit := SystemdUnit(c.opts.Exe, Arguments(c.opts.ConfigPath))
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		return err
	}
	if err := c.systemctl(ctx, "enable", Name+".service"); err != nil {
		_ = os.Remove(path)
		return err
	}
	if c.opts.Root == "" {
		c.log.Warn("systemd is not running here: unit written and enabled; it starts at the next boot",
			"unit", path)
	}
	return nil
}

func (c *Controller) uninstall(ctx context.Context) error {
	if c.svc != nil {
		// Stopping a stopped unit is fine; a failure to stop must not keep the unit around.
		if err := c.svc.Stop(); err != nil {
			c.log.Warn("stop before uninstall failed", "err", err)
		}
		return c.svc.Uninstall()
	}
	path := c.unitPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unit %s: %w", path, service.ErrNotInstalled)
	}
	if err := c.systemctl(ctx, "disable", Name+".service"); err != nil {
		return err
	}
	return os.Remove(path)
}

func (c *Controller) control(_ context.Context, action string) error {
	if c.svc == nil {
		return fmt.Errorf("%s %s: %w (systemd is not PID 1 or an install root is set)", action, Name, ErrOffline)
	}
	return service.Control(c.svc, action)
}

func (c *Controller) applyRecovery(context.Context) error { return nil }

func (c *Controller) state(_ context.Context) (State, error) {
	if c.svc != nil {
		return mapStatus(c.svc.Status())
	}
	if _, err := os.Stat(c.unitPath()); errors.Is(err, os.ErrNotExist) {
		return StateNotInstalled, nil
	} else if err != nil {
		return StateUnknown, err
	}
	return StateStopped, nil
}

// systemctl runs systemctl against the root's unit files without talking to a running systemd,
// which also works where systemd is not PID 1.
func (c *Controller) systemctl(ctx context.Context, args ...string) error {
	full := append([]string{"--root=" + c.root(), "--no-reload", "--quiet"}, args...)
	cmd := exec.CommandContext(ctx, "systemctl", full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// systemd signals a stop with SIGTERM, which the caller's ctx observes.
func run(ctx context.Context, _ *slog.Logger, fn func(context.Context) error) error {
	return fn(ctx)
}
