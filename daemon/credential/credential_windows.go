//go:build windows

package credential

import "errors"

// The Windows store (DPAPI, machine scope, file under %ProgramData%\pcipause) is not
// implemented yet; this stub keeps the package building and fails clearly.
var errWindows = errors.New("credential: the DPAPI store is not implemented on windows yet")

// Open returns an error on Windows until the DPAPI store exists.
func Open(path string) (Store, error) { return nil, errWindows }
