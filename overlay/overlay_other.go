//go:build !linux && !windows

package overlay

import (
	"fmt"
	"log/slog"
	"runtime"
)

func newPlatform(Options, *slog.Logger) (Overlay, error) {
	return nil, fmt.Errorf("overlay: not supported on %s", runtime.GOOS)
}
