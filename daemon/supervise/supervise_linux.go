//go:build linux

package supervise

// newPlatform: on Linux the desktop session starts the helper (XDG autostart or a systemd user
// unit), so there is nothing to supervise; Run says so and waits.
func newPlatform(*Options) (platform, error) { return nil, nil }
