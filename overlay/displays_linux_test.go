//go:build linux

package overlay

import "pcipause/e2e/xenv"

// This package's own display numbers, apart from e2e's (see xenv.TestDisplays).
func init() { xenv.TestDisplays = [2]int{85, 89} }
