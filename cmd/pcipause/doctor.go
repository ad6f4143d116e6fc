package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"pcipause/daemon/config"
	"pcipause/daemon/doctor"
	"pcipause/daemon/server"
)

func init() {
	register(&command{name: "doctor",
		short: "check config, credential, TLS, reachability, token, scopes, clock and recordings [--config F] [--agent ID]",
		run:   runDoctor})
}

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath(), "config file")
	agent := fs.String("agent", "", "CXone agent id (wem-v1) or user id (cxone-mask) whose active recordings to list")
	verbose := fs.Bool("v", false, "log each CXone call to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))
	}
	lvl := slog.LevelError
	if *verbose {
		lvl = slog.LevelDebug
	}
	in := doctor.Input{ConfigPath: *path, AgentID: *agent,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))}
	cfg, err := config.Load(*path)
	if err != nil {
		in.ConfigErr = err
	} else {
		in.Options, in.CredentialErr = server.BackendOptions(cfg)
	}
	if err := doctor.Run(ctx, in, stdout); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}
