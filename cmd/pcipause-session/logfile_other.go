//go:build !windows

package main

// defaultLogFile is empty off Windows: the desktop session's service manager (a systemd user
// unit, or the babysitter in `pcipause local`) collects stderr.
func defaultLogFile() string { return "" }
