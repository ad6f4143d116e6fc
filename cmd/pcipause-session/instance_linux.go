package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// singleInstance takes an exclusive lock for this user's display, so a second helper in the
// same session exits instead of drawing a second set of masks. The lock dies with the process.
func singleInstance(display string) (release func(), err error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	d := displayName(display)
	name := fmt.Sprintf("pcipause-session-%d-%s.lock", os.Getuid(), strings.NewReplacer(":", "", "/", "_", ".", "_").Replace(d))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pcipause-session already runs on display %s for this user", d)
		}
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func displayName(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("DISPLAY")
}

// sessionID is the login session as logind names it.
func sessionID() string {
	if id := os.Getenv("XDG_SESSION_ID"); id != "" {
		return id
	}
	return "display" + displayName("")
}
