// Command demo shows the tray icon in one state until interrupted, so the docs' screenshots
// come from the real tray under a real tray host:
//
//	go run ./tray/demo -state pci-active -reason PCI_DATA_DETECTED
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"pcipause/tray"
)

func main() {
	state := flag.String("state", "recording", "recording, pci-active, degraded or not-recording")
	reason := flag.String("reason", "", "last pause reason to show")
	detail := flag.String("detail", "", "detail line to show")
	version := flag.String("version", "1.0.0", "version to show")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *state, *reason, *detail, *version); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, state, reason, detail, version string) error {
	states := map[string]tray.State{
		"recording": tray.Recording, "pci-active": tray.PCIActive,
		"degraded": tray.Degraded, "not-recording": tray.NotRecording,
	}
	st, ok := states[state]
	if !ok {
		return fmt.Errorf("unknown state %q", state)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	t := tray.New(log, func() string { return "demo: no service connected\n" })
	t.Set(tray.Status{State: st, Since: time.Now().Add(-3 * time.Minute), LastPauseReason: reason, Detail: detail, Version: version})
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- t.Run(ctx, started) }()
	if err := <-started; err != nil {
		return err
	}
	return <-done
}
