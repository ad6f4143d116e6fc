package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The service commands against a temporary root on Linux: install writes and enables the unit,
// start reports that no systemd runs there, uninstall removes it; bad arguments are errors.
func TestServiceCommandsRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("install roots exist on linux only")
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Skip("systemctl not installed (Debian package systemd)")
	}
	root := t.TempDir()
	unit := filepath.Join(root, "etc/systemd/system/pcipause.service")
	for _, tc := range []struct {
		args    []string
		wantErr string
		wantOut string
		unit    bool
	}{
		{[]string{"install", "--root", root, "--config", "/etc/pcipause/site.toml"}, "", "not started", true},
		{[]string{"install", "--root", root}, "already exists", "", true},
		{[]string{"start", "--root", root}, "no running service manager", "", true},
		{[]string{"stop", "--root", root, "extra"}, `unexpected argument "extra"`, "", true},
		{[]string{"install", "--bogus"}, "flag provided but not defined", "", true},
		{[]string{"uninstall", "--root", root}, "", "uninstall: done", false},
		{[]string{"uninstall", "--root", root}, "not installed", "", false},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		name := strings.Join(tc.args, " ")
		if tc.wantErr == "" && err != nil {
			t.Fatalf("%s: %v\n%s", name, err, errOut.String())
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error()+errOut.String(), tc.wantErr)) {
			t.Fatalf("%s: error %v, want %q", name, err, tc.wantErr)
		}
		if !strings.Contains(out.String(), tc.wantOut) {
			t.Fatalf("%s: output %q lacks %q", name, out.String(), tc.wantOut)
		}
		b, err := os.ReadFile(unit)
		if (err == nil) != tc.unit {
			t.Fatalf("%s: unit present=%v, want %v", name, err == nil, tc.unit)
		}
		if tc.unit && !strings.Contains(string(b), `"service" "--config" "/etc/pcipause/site.toml"`) {
			t.Fatalf("%s: unit does not pass the config path:\n%s", name, b)
		}
	}
}

// `pcipause service --foreground` runs the runtime until its context ends and returns cleanly;
// a runtime that fails makes the command fail with its error.
func TestServiceForeground(t *testing.T) {
	prev := serverRun
	t.Cleanup(func() { serverRun = prev })
	for _, tc := range []struct {
		name    string
		runtime func(ctx context.Context, cfg string, log *slog.Logger) error
		wantErr string
	}{
		{"stops with its context", func(ctx context.Context, _ string, _ *slog.Logger) error { <-ctx.Done(); return ctx.Err() }, ""},
		{"runtime fails", func(context.Context, string, *slog.Logger) error { return errors.New("ipc: address in use") }, "service: ipc: address in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotCfg string
			serverRun = func(ctx context.Context, cfg string, log *slog.Logger) error {
				gotCfg = cfg
				return tc.runtime(ctx, cfg, log)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			cfg := filepath.Join(t.TempDir(), "none.toml")
			var errOut bytes.Buffer
			err := run(ctx, []string{"service", "--foreground", "--config", cfg}, &bytes.Buffer{}, &errOut)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("service --foreground: %v", err)
			}
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if gotCfg != cfg {
				t.Errorf("runtime got config %q, want %q", gotCfg, cfg)
			}
			if !strings.Contains(errOut.String(), "pcipause service starting") {
				t.Errorf("no start line in the foreground log:\n%s", errOut.String())
			}
		})
	}
}
