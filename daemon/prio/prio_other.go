//go:build !linux && !windows

package prio

import "errors"

// Raise is not built for this system.
func Raise(pid, nice int) error {
	return errors.New("raising a helper's priority is not built for this system")
}
