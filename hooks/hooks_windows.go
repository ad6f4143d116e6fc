//go:build windows

package hooks

import (
	"errors"
	"log/slog"
)

// newSource is a placeholder until the WH_KEYBOARD_LL source lands in this file.
func newSource(Options, *slog.Logger) (Source, error) {
	return nil, errors.New("hooks: the windows source is not implemented yet")
}
