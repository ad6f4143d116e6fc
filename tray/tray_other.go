//go:build !linux && !windows

package tray

import (
	"context"
	"fmt"
	"runtime"
)

// run has no native tray to drive on this OS (fyne.io/systray needs cgo on macOS).
func (t *Tray) run(ctx context.Context, report func(error)) error {
	err := fmt.Errorf("tray: not supported on %s", runtime.GOOS)
	report(err)
	return err
}
