package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxLogSize is the size at which the helper's log file is rotated (one old generation kept,
// as <file>.1), so a helper that runs for months cannot fill the agent's profile.
const maxLogSize = 5 << 20

// openLog opens path for appending, creating its directory (0700) and rotating it first when
// it is larger than maxLogSize. The log never holds card data: the helper logs digit counts,
// never digits.
func openLog(path string) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, fmt.Errorf("log file: rotate: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}
