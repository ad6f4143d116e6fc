package main

import (
	"bytes"
	"os"
	"testing"
)

// TestManifestResource proves the linked Windows resource object (rsrc_windows_amd64.syso,
// made by `make winres` with mingw windres) carries the current manifest, and that the
// manifest asks for per-monitor DPI awareness and no elevation.
func TestManifestResource(t *testing.T) {
	manifest, err := os.ReadFile("winres/pcipause-session.manifest")
	if err != nil {
		t.Fatal(err)
	}
	syso, err := os.ReadFile("rsrc_windows_amd64.syso")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(syso, manifest) {
		t.Fatal("rsrc_windows_amd64.syso is stale: run `make winres` after editing winres/pcipause-session.manifest")
	}
	for _, want := range []string{"PerMonitorV2", "true/pm", `level="asInvoker"`} {
		if !bytes.Contains(manifest, []byte(want)) {
			t.Errorf("manifest lacks %s", want)
		}
	}
}
