//go:build !linux && !windows

package hooks

import (
	"fmt"
	"log/slog"
	"runtime"
)

func newSource(Options, *slog.Logger) (Source, error) {
	return nil, fmt.Errorf("hooks: no event source for %s", runtime.GOOS)
}
