//go:build !linux && !windows

package credential

import (
	"fmt"
	"runtime"
)

// Open returns an error: there is no credential store on this system.
func Open(path string) (Store, error) {
	return nil, fmt.Errorf("credential: no store on %s", runtime.GOOS)
}
