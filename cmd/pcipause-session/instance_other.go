//go:build !linux && !windows

package main

import (
	"fmt"
	"runtime"
)

func singleInstance(string) (func(), error) {
	return nil, fmt.Errorf("pcipause-session is not supported on %s", runtime.GOOS)
}
func displayName(string) string { return "" }
func sessionID() string         { return "" }
