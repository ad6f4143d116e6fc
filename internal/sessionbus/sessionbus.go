// Package sessionbus finds the desktop session's D-Bus without starting one.
//
// godbus's SessionBus and ConnectSessionBus fall back to `dbus-launch --autolaunch` when
// DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist; the bus daemon
// (and, once asked for, the accessibility bus launcher) it starts outlives the helper. A
// session without a bus has no tray host and no accessibility bus to talk to anyway.
package sessionbus

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNone reports that the session has no D-Bus session bus.
var ErrNone = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset and no $XDG_RUNTIME_DIR/bus); not starting one")

// Address returns the session bus address from the environment, or the systemd user bus
// socket when it exists, or ErrNone.
func Address() (string, error) {
	return address(os.Getenv)
}

func address(getenv func(string) string) (string, error) {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		p := filepath.Join(dir, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + p, nil
		}
	}
	return "", ErrNone
}
