// Package svcctl registers, controls and runs the pcipause service under the platform's service
// manager — systemd on Linux, the Service Control Manager on Windows — through
// kardianos/service, and renders the systemd unit the Debian package ships.
package svcctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/kardianos/service"
)

// The service's identity. The MSI (installer/windows/pcipause.wxs) and the Debian package
// (installer/linux/pcipause.service) register the same name and run argument; tests keep them
// in step.
const (
	Name        = "pcipause"
	DisplayName = "pcipause recording guard"
	Description = "Pauses NICE CXone screen recordings while payment-card data is on screen and keeps the audit trail."
	// RunArg is the first argument the service manager passes: `pcipause service`.
	RunArg = "service"
)

// State is what the service manager reports about the service.
type State int

const (
	StateUnknown State = iota
	StateNotInstalled
	StateStopped
	StateRunning
)

func (s State) String() string {
	switch s {
	case StateNotInstalled:
		return "not-installed"
	case StateStopped:
		return "stopped"
	case StateRunning:
		return "running"
	}
	return "unknown"
}

// ErrOffline is returned by Start, Stop and Restart when there is no running service manager to
// ask: an install into Options.Root, or a Linux host where systemd is not PID 1.
var ErrOffline = errors.New("no running service manager")

// Options configure a Controller.
type Options struct {
	// Exe is the absolute path of the pcipause binary the manager runs; empty means this
	// executable.
	Exe string
	// ConfigPath, when set, is passed to the service as --config; empty means the default.
	ConfigPath string
	// Root, Linux only, installs into this directory tree instead of / and asks no running
	// systemd anything: for image builds, packaging and tests.
	Root string
	// Log receives what the controller did; nil discards.
	Log *slog.Logger
}

// Controller installs and controls the pcipause service. Its methods run the manager's tools
// synchronously; ctx bounds external commands where the platform runs any.
type Controller struct {
	opts Options
	log  *slog.Logger
	svc  service.Service // nil for an offline install (Root set or no systemd)
}

// New returns a Controller for this host's service manager.
func New(opts Options) (*Controller, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{opts: opts, log: opts.Log.With("component", "svcctl")}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("service control: %w", err)
	}
	return c, nil
}

// Arguments is the command line, after the executable, the service manager runs.
func Arguments(configPath string) []string {
	args := []string{RunArg}
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	return args
}

// Install registers the service to start at boot (Linux: enabled unit; Windows: automatic
// delayed start, LocalSystem, restart on failure).
func (c *Controller) Install(ctx context.Context) error {
	if err := c.install(ctx); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	c.log.Info("service installed", "name", Name, "exe", c.exe())
	return nil
}

// Uninstall stops the service if it runs and removes its registration.
func (c *Controller) Uninstall(ctx context.Context) error {
	if err := c.uninstall(ctx); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	c.log.Info("service uninstalled", "name", Name)
	return nil
}

// Start asks the manager to start the service.
func (c *Controller) Start(ctx context.Context) error {
	if err := c.control(ctx, "start"); err != nil {
		return fmt.Errorf("start service: %w", err)
	}
	return nil
}

// Stop asks the manager to stop the service.
func (c *Controller) Stop(ctx context.Context) error {
	if err := c.control(ctx, "stop"); err != nil {
		return fmt.Errorf("stop service: %w", err)
	}
	return nil
}

// Restart asks the manager to restart the service.
func (c *Controller) Restart(ctx context.Context) error {
	if err := c.control(ctx, "restart"); err != nil {
		return fmt.Errorf("restart service: %w", err)
	}
	return nil
}

// ApplyRecovery sets, on an installed Windows service, what the MSI's ServiceInstall table
// cannot say: delayed automatic start and restart on every failure. On Linux the unit carries
// both (Restart=always) and this does nothing.
func (c *Controller) ApplyRecovery(ctx context.Context) error {
	if err := c.applyRecovery(ctx); err != nil {
		return fmt.Errorf("service recovery settings: %w", err)
	}
	return nil
}

// State reports whether the service is installed and running.
func (c *Controller) State(ctx context.Context) (State, error) {
	st, err := c.state(ctx)
	if err != nil {
		return StateUnknown, fmt.Errorf("service state: %w", err)
	}
	return st, nil
}

// Run runs fn as the service until ctx ends or the service manager stops it, and returns fn's
// error. Under the Windows SCM it is the service's control handler: it reports Running at once,
// before fn does its slow set-up, and turns Stop and Shutdown into cancelling fn's context.
// Elsewhere, and for `pcipause service --foreground`, it calls fn directly.
func Run(ctx context.Context, log *slog.Logger, fn func(context.Context) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return run(ctx, log.With("component", "svcctl"), fn)
}

// kardianosConfig is the service definition for both platforms; the per-platform keys are
// ignored by the other.
func kardianosConfig(exe string, args []string) *service.Config {
	return &service.Config{
		Name:        Name,
		DisplayName: DisplayName,
		Description: Description,
		Executable:  exe,
		Arguments:   args,
		Option: service.KeyValue{
			// Linux: our own unit, hardened; see unit.go.
			"SystemdScript": unitTemplate,
			// Windows: automatic start as LocalSystem (empty UserName). Delayed start and the
			// recovery actions are set after creation by ApplyRecovery, which tolerates a
			// service manager without them (Wine); asked of CreateService, they would undo
			// the whole install there.
			"StartType": "automatic",
		},
	}
}

// kardianos needs a program to construct a Service even when it only installs or controls it;
// running goes through Run instead.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

func mapStatus(st service.Status, err error) (State, error) {
	if errors.Is(err, service.ErrNotInstalled) {
		return StateNotInstalled, nil
	}
	if err != nil {
		return StateUnknown, err
	}
	switch st {
	case service.StatusRunning:
		return StateRunning, nil
	case service.StatusStopped:
		return StateStopped, nil
	}
	return StateUnknown, nil
}

// cmdQuote and cmdEscape are kardianos's template functions, repeated so SystemdUnit renders
// byte for byte what kardianos installs.
func cmdQuote(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
func cmdEscape(s string) string { return strings.ReplaceAll(s, " ", `\x20`) }
