package tray

import (
	"fmt"
	"log/slog"

	"golang.org/x/sys/windows"
)

const (
	cfUnicodeText = 13
	gmemMoveable  = 0x0002
)

// winClipboard puts the diagnostics on the Windows clipboard as CF_UNICODETEXT; the system
// keeps the copy, so it outlives the helper. If the clipboard cannot be opened (another
// program holds it) the text goes to a file and the log says where.
type winClipboard struct {
	log *slog.Logger
}

func newClipboard(log *slog.Logger) clipboard { return &winClipboard{log: log} }

func (c *winClipboard) copy(text string) (string, error) {
	if err := setClipboardText(text); err != nil {
		path, ferr := writeDiagnosticsFile(text)
		if ferr != nil {
			return "", fmt.Errorf("copy diagnostics: clipboard (%v), no file: %w", err, ferr)
		}
		c.log.Warn("clipboard unavailable; diagnostics written to a file instead", "path", path, "err", err)
		return "file " + path, nil
	}
	return "Windows clipboard", nil
}

func (c *winClipboard) close() {}

func setClipboardText(text string) error {
	u, err := windows.UTF16FromString(text)
	if err != nil {
		return fmt.Errorf("clipboard text: %w", err)
	}
	if err := openClipboard(0); err != nil {
		return fmt.Errorf("open clipboard: %w", err)
	}
	defer closeClipboard()
	if err := emptyClipboard(); err != nil {
		return fmt.Errorf("empty clipboard: %w", err)
	}
	size := uintptr(len(u)) * 2
	mem, err := globalAlloc(gmemMoveable, size)
	if err != nil {
		return fmt.Errorf("clipboard alloc: %w", err)
	}
	p, err := globalLock(mem)
	if err != nil {
		globalFree(mem)
		return fmt.Errorf("clipboard lock: %w", err)
	}
	moveMemory(p, &u[0], size)
	globalUnlock(mem)
	if _, err := setClipboardData(cfUnicodeText, mem); err != nil {
		globalFree(mem) // the system owns mem only after a successful SetClipboardData
		return fmt.Errorf("set clipboard data: %w", err)
	}
	return nil
}
