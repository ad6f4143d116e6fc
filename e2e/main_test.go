package e2e

import (
	"io"
	"log"
	"os"
	"testing"

	"github.com/jezek/xgb"
)

func TestMain(m *testing.M) {
	// xgb logs to a package-level logger when a display has no auth cookie, as private Xvfb
	// sessions do; keep test output to what the tests say.
	xgb.Logger = log.New(io.Discard, "", 0)
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir) // the binaries built for the pcipause local tests
	}
	os.Exit(code)
}
