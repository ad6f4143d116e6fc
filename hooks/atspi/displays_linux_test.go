//go:build linux

package atspi

import "pcipause/hooks/internal/xvfbtest"

// This package's own display numbers, apart from the other packages that run at the same
// time (see xvfbtest.Displays).
func init() { xvfbtest.Displays = [2]int{65, 69} }
