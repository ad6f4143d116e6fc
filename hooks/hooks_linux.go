//go:build linux

package hooks

import (
	"errors"
	"log/slog"
)

func newSource(Options, *slog.Logger) (Source, error) {
	return nil, errors.New("hooks: the x11 source is not wired yet")
}
