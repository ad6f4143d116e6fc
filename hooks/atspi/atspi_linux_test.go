//go:build linux

package atspi

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"pcipause/hooks/internal/xvfbtest"
)

// TestZenityFormFocus opens a zenity form (GTK 3) on a private Xvfb with its own session bus
// and checks that focusing its entries reports role, label, extents and pid.
func TestZenityFormFocus(t *testing.T) {
	xvfbtest.Need(t, "zenity", "xdotool", "dbus-daemon")
	if _, err := os.Stat("/usr/libexec/at-spi-bus-launcher"); err != nil {
		t.Skip("at-spi2-core is not installed (make deps installs it)")
	}
	env := xvfbtest.New(t, true)
	env.SessionBus(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Connect(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Field, 16)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	defer func() { cancel(); <-done }()

	t.Logf("%v start zenity", time.Now().Format("05.000"))
	z := env.Start(t, "zenity", "--forms", "--title=Payment", "--add-entry=Card number", "--add-entry=Name")
	wid := strings.Fields(env.Output(t, "xdotool", "search", "--sync", "--pid", strconv.Itoa(z.Process.Pid)))[0]
	env.Output(t, "xdotool", "windowactivate", "--sync", wid)

	deadline := time.After(30 * time.Second) // hang guard
	seen := map[string]Field{}
	for len(seen) < 2 {
		select {
		case f := <-out:
			t.Logf("%v %d %q %q %v", time.Now().Format("05.000"), f.PID, f.Role, f.Label, f.Bounds)
			if f.PID == z.Process.Pid && f.Role == "text" {
				seen[f.Label] = f
			}
			if len(seen) == 1 {
				env.Output(t, "xdotool", "key", "Tab")
			}
		case <-deadline:
			t.Fatalf("focus events seen: %+v", seen)
		}
	}
	card, ok := seen["Card number"]
	if !ok {
		t.Fatalf("no focus on the card entry: %+v", seen)
	}
	if card.Bounds.Empty() || card.Bounds.Dx() < 20 {
		t.Fatalf("card entry extents %v", card.Bounds)
	}
	if _, ok := seen["Name"]; !ok {
		t.Fatalf("Tab did not report the Name entry: %+v", seen)
	}
}
