package tray

import (
	"os"
	"testing"
)

// TestMain lets the D-Bus tests run this test binary as the session helper: the native tray
// loop can run once per process, so each scenario gets a process of its own.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}
