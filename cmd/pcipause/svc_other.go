//go:build !windows

package main

// systemd (and a terminal) collect stderr.
const serviceNeedsLogFile = false
