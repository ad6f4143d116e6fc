//go:build linux || windows

package tray

import (
	"fmt"
	"os"
	"path/filepath"
)

// diagnosticsFileName is where "Copy diagnostics" writes when no clipboard can take the text.
const diagnosticsFileName = "pcipause-diagnostics.txt"

// writeDiagnosticsFile writes text, readable by the user only, to $XDG_RUNTIME_DIR (Linux)
// or the user's cache directory, and returns the path.
func writeDiagnosticsFile(text string) (string, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("diagnostics file: %w", err)
		}
		dir = filepath.Join(cache, "pcipause")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("diagnostics file: %w", err)
		}
	}
	path := filepath.Join(dir, diagnosticsFileName)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("diagnostics file: %w", err)
	}
	return path, nil
}
