package tray

import (
	"log/slog"
	"strings"
	"sync/atomic"

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
	hasTray  atomic.Bool // systray created its window and icon
}

// newHost runs on the goroutine (and locked OS thread) that will run the message loop.
func newHost(log *slog.Logger) (host, error) {
	// A thread gets its message queue on its first USER call; PostThreadMessage needs it.
	var m winMsg
	peekMessage(&m, 0, 0, 0, pmNoRemove)
	return &shellHost{threadID: windows.GetCurrentThreadId()}, nil
}

// quit ends the message loop. systray.Quit may only run once systray has registered: before
// that it calls a nil exit callback and panics. Until then, and in case systray never gets
// a window, WM_QUIT posted to the loop's thread ends the loop instead.
func (h *shellHost) quit() {
	if h.hasTray.Load() {
		systray.Quit() // removes the icon and closes systray's window
		return
	}
	// An error means the loop's thread has gone already: nothing left to stop.
	_ = postThreadMessage(h.threadID, wmQuit, 0, 0)
}

// shows is always true: systray's Windows start-up completes before onReady, so no update
// is lost, and Shell_NotifyIcon offers no read-back.
func (h *shellHost) shows(view) bool { return true }

func (h *shellHost) ready() { h.hasTray.Store(true) }

// afterLoop removes the icon in case the tray came up while quit took the WM_QUIT path.
// systray.Run has registered by now, so systray.Quit is safe; it runs once per process, so
// after an earlier call it does nothing.
func (h *shellHost) afterLoop() { systray.Quit() }

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
