package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"pcipause/daemon/config"
	"pcipause/daemon/server"
	"pcipause/daemon/svcctl"
)

func init() {
	register(&command{name: "install", short: "register the service with systemd or the Windows SCM and start it",
		run: runInstall})
	register(&command{name: "uninstall", short: "stop the service and remove its registration (config and state stay)",
		run: controlCommand("uninstall", (*svcctl.Controller).Uninstall)})
	register(&command{name: "start", short: "start the service", run: controlCommand("start", (*svcctl.Controller).Start)})
	register(&command{name: "stop", short: "stop the service", run: controlCommand("stop", (*svcctl.Controller).Stop)})
	register(&command{name: "restart", short: "restart the service", run: controlCommand("restart", (*svcctl.Controller).Restart)})
	register(&command{name: "service", short: "run the service (started by the service manager; --foreground in a terminal)",
		run: runService})
}

// serverRun is the service runtime; a variable so the command's tests can stand in for it.
var serverRun = func(ctx context.Context, configPath string, log *slog.Logger) error {
	return server.Run(ctx, server.Options{ConfigPath: configPath, Log: log})
}

func cliLogger(stderr io.Writer) *slog.Logger {
	// No component attribute: each package the CLI drives adds its own.
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file the service reads (default "+config.DefaultPath()+")")
	root := fs.String("root", "", "Linux: install the unit into this directory tree instead of / (image builds)")
	noStart := fs.Bool("no-start", false, "register only; do not start the service now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("install: unexpected argument %q", fs.Arg(0))
	}
	path := *cfgPath
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("install: config path: %w", err)
		}
		path = abs
	}
	c, err := svcctl.New(svcctl.Options{ConfigPath: path, Root: *root, Log: cliLogger(stderr)})
	if err != nil {
		return err
	}
	if err := c.Install(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed service %s\n", svcctl.Name)
	if *noStart {
		return nil
	}
	if err := c.Start(ctx); errors.Is(err, svcctl.ErrOffline) {
		fmt.Fprintf(stdout, "not started: %v\n", err)
		return nil
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "started service %s\n", svcctl.Name)
	return nil
}

func controlCommand(name string, op func(*svcctl.Controller, context.Context) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		root := fs.String("root", "", "Linux: act on the unit under this directory tree instead of /")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
		}
		c, err := svcctl.New(svcctl.Options{Root: *root, Log: cliLogger(stderr)})
		if err != nil {
			return err
		}
		if err := op(c, ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: done\n", name)
		return nil
	}
}

func runService(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	foreground := fs.Bool("foreground", false, "run in this terminal, logging to stderr, not under the service manager")
	cfgPath := fs.String("config", config.DefaultPath(), "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("service: unexpected argument %q", fs.Arg(0))
	}
	base, closeLog, err := serviceLogger(*cfgPath, *foreground, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	// Each package adds its own component attribute to base.
	log := base.With("component", "service")
	log.Info("pcipause service starting", "config", *cfgPath, "foreground", *foreground)
	serve := func(ctx context.Context) error { return serverRun(ctx, *cfgPath, base) }
	if *foreground {
		err = serve(ctx)
	} else {
		err = svcctl.Run(ctx, base, serve)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		log.Error("pcipause service failed", "err", err)
		return fmt.Errorf("service: %w", err)
	}
	log.Info("pcipause service stopped")
	return nil
}

// serviceLogger logs where the config's [log] section says; with no file configured, to stderr
// (the journal under systemd) — except a Windows service, whose stderr goes nowhere, which logs
// to pcipause.log in the configured log directory. A config that does not load is reported by
// the runtime; the log then uses the defaults.
func serviceLogger(cfgPath string, foreground bool, stderr io.Writer) (*slog.Logger, func(), error) {
	lc := config.Default()
	if c, err := config.Load(cfgPath); err == nil {
		lc = c
	}
	w, closer := stderr, func() {}
	file := lc.Log.File
	if file == "" && !foreground && serviceNeedsLogFile {
		file = filepath.Join(lc.Paths.LogDir, "pcipause.log")
	}
	if file != "" && !foreground {
		f, err := openLogFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("service: log file: %w", err)
		}
		w, closer = f, func() { _ = f.Close() }
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if lc.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h), closer, nil
}

// maxLogSize is where the service log file is rolled over to <file>.1, checked at start.
const maxLogSize = 10 << 20

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}
