package tray

import (
	"log/slog"
	"strings"

	"fyne.io/systray"
	"golang.org/x/sys/windows"

	"pcipause/tray/icons"
)

const (
	wmQuit     = 0x0012
	pmNoRemove = 0x0000
)

// shellHost is Explorer's notification area, reached through Shell_NotifyIcon by systray. It
// remembers the loop's thread so quit can end the message loop even if systray never created
// its window (then systray.Quit alone would post to nowhere).
type shellHost struct {
	threadID uint32
}

// newHost runs on the goroutine (and locked OS thread) that will run the message loop.
func newHost(log *slog.Logger) (host, error) {
	// A thread gets its message queue on its first USER call; PostThreadMessage needs it.
	var m winMsg
	peekMessage(&m, 0, 0, 0, pmNoRemove)
	return &shellHost{threadID: windows.GetCurrentThreadId()}, nil
}

func (h *shellHost) quit() {
	systray.Quit() // removes the icon and closes systray's window
	// An error means the loop's thread has gone already: nothing left to stop.
	_ = postThreadMessage(h.threadID, wmQuit, 0, 0)
}

func (h *shellHost) facts() map[string]string {
	return map[string]string{"tray host": "Windows notification area (Shell_NotifyIcon)"}
}

// preload does nothing: systray's Windows start-up creates the icon before onReady, and
// calls before that fail.
func (h *shellHost) preload(view) {}

func (h *shellHost) close() {}

// iconBytes is the multi-size ICO that systray hands to LoadImage.
func iconBytes(i icons.Icon) ([]byte, error) { return icons.ICO(i) }

// menuText escapes a Win32 menu label, where "&" marks the access key.
func menuText(s string) string { return strings.ReplaceAll(s, "&", "&&") }
