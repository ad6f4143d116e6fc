// Command pcipause-session is the per-user session helper: it watches focus and keys, masks
// card data on screen the instant it appears, shows the tray icon and tells the service, which
// pauses the recording. It holds no credential and reaches CXone only through the service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"pcipause/daemon/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pcipause-session:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "version" {
		fmt.Fprintln(stdout, buildinfo.String())
		return nil
	}
	fs := flag.NewFlagSet("pcipause-session", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.configPath, "config", "", "config file (default: the service's config file)")
	fs.StringVar(&o.socket, "socket", "", "the service's IPC endpoint (default: paths.socket from the config)")
	fs.StringVar(&o.display, "display", "", "X display (default $DISPLAY)")
	fs.StringVar(&o.readyFile, "ready-file", "", "write this file once masking is live")
	fs.BoolVar(&o.noTray, "no-tray", false, "do not show the tray icon")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	logFile := fs.String("log-file", defaultLogFile(), "append the log to this file (rotated at 5 MiB) instead of stderr")
	fs.BoolVar(&o.noOverlay, "unprotected", false, "benchmarks only: detect and report but never mask (the API-only baseline)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logw := stderr
	if *logFile != "" {
		f, err := openLog(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	o.baseLog = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl}))
	o.log = o.baseLog.With("component", "session")
	return runSession(ctx, o)
}

type options struct {
	configPath, socket, display, readyFile, logLevel string
	noTray, noOverlay                                bool
	log, baseLog                                     *slog.Logger
}
