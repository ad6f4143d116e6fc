//go:build linux

package detect

import "pcipause/hooks/internal/xvfbtest"

// This package's own display numbers, apart from the other packages that run at the same
// time (see xvfbtest.Displays).
func init() { xvfbtest.Displays = [2]int{60, 64} }
