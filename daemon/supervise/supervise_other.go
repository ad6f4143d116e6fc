//go:build !linux && !windows

package supervise

import (
	"fmt"
	"runtime"
)

func newPlatform(*Options) (platform, error) {
	return nil, fmt.Errorf("session helper supervision is not supported on %s", runtime.GOOS)
}
