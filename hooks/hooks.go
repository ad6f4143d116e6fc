// Package hooks turns the desktop's focus changes, window moves, keystrokes and clipboard
// changes into a small platform-neutral event stream (Sink) that the PCI detector consumes.
//
// A Source is the platform's event pump: X11 on Linux (XInput2 raw key events, EWMH focus,
// XFixes selection notify, optionally AT-SPI for field identity), a WH_KEYBOARD_LL hook and
// WinEvents on Windows. Sources call the Sink synchronously, in key order, on the goroutine
// that owns the native event loop; a Sink must therefore return quickly and must not call back
// into the Source. Where the OS lets the hook hold a key until it returns (WH_KEYBOARD_LL), the
// detector shows the mask inside Key, so the application sees the key only after the mask is up.
//
// Nothing in this package keeps the digits it reports: a Key carries one digit, the Sink
// decides what to remember, and clipboard contents are reduced to one bool before they leave
// the Source.
package hooks

import (
	"context"
	"image"
	"log/slog"
	"time"
)

// Window is a top-level window as the window manager sees it.
type Window struct {
	ID     uint64          // X11 window id or HWND; 0 is never a real window
	PID    int             // owning process, 0 if unknown
	Exe    string          // executable base name ("xterm", "notepad.exe"), "" if unknown
	Class  string          // WM_CLASS class (X11) or window class name (Windows)
	Title  string          // window title at focus time
	Bounds image.Rectangle // absolute screen coordinates of the client area; empty = destroyed or unknown
}

// Field is the focused control inside a window, where the platform's accessibility layer
// tells us (AT-SPI on Linux, UI Automation on Windows). The zero Field means unknown.
type Field struct {
	Role         string          // accessible role, e.g. "text", "password text", "edit"
	Label        string          // accessible name or the label that labels it
	AutomationID string          // UI Automation id (Windows); "" on X11
	Bounds       image.Rectangle // absolute screen coordinates; empty = unknown
}

// Focus is where keystrokes go now.
type Focus struct {
	Window Window
	Field  Field
}

// KeyCode classifies a key press by what it does to the text in the focused field. The
// platform source maps keysyms / virtual keys with the live keyboard layout and modifier state.
type KeyCode uint8

const (
	KeyOther        KeyCode = iota // any other key that changes or moves in the text
	KeyDigit                       // 0-9 from the main row or the keypad; Key.Digit holds '0'..'9'
	KeySeparator                   // space or dash (main row or keypad), allowed inside a card number
	KeyBackspace                   // deletes the character before the cursor
	KeyDelete                      // deletes the character after the cursor (or the selection)
	KeyPaste                       // Ctrl+V, Ctrl+Shift+V, Shift+Insert
	KeyPrimaryPaste                // middle mouse button: pastes the X11 PRIMARY selection
	KeyEnter                       // Return or keypad Enter
	KeyTab                         // Tab or Shift+Tab
	KeyEscape                      // Escape
	KeyModifier                    // Shift, Control, Alt, Super, NumLock, ... on their own
	KeySelectAll                   // Ctrl+A: the next Backspace, Delete or typed key clears the field
	KeyClearLine                   // Ctrl+U: clears the line in terminals and line editors
)

var keyNames = [...]string{
	KeyOther: "other", KeyDigit: "digit", KeySeparator: "separator", KeyBackspace: "backspace",
	KeyDelete: "delete", KeyPaste: "paste", KeyPrimaryPaste: "primary-paste", KeyEnter: "enter",
	KeyTab: "tab", KeyEscape: "escape", KeyModifier: "modifier", KeySelectAll: "select-all",
	KeyClearLine: "clear-line",
}

// String names the code. It never includes the digit.
func (k KeyCode) String() string {
	if int(k) < len(keyNames) {
		return keyNames[k]
	}
	return "unknown"
}

// Key is one key press (releases are not reported). Digit is '0'..'9' for KeyDigit and 0
// otherwise; it must never be logged.
type Key struct {
	Code  KeyCode
	Digit byte
	At    time.Time // when the OS saw the key; the detector uses it as the detection timestamp
}

// Sink receives the event stream. Calls come from one goroutine, in order.
type Sink interface {
	// Focus reports a new focused window or field. The source suppresses repeats, but reports
	// the same window and field again when the window's title changes (rules may match by
	// title); the detector then keeps the digit run it was counting.
	Focus(Focus)
	// Moved reports new bounds for a window reported earlier by Focus (moved or resized),
	// focused or not. Empty Bounds means the window was destroyed: whatever it showed is
	// gone. A window that is only hidden (minimised) is not reported, so its mask stays.
	Moved(Window)
	// Key reports a key press in the focused window.
	Key(Key)
	// Clipboard reports, after each clipboard or PRIMARY selection change, whether the
	// selection a paste key would insert holds a Luhn-valid card number. The text itself
	// is wiped in the source right after it is classified.
	Clipboard(holdsPAN bool)
}

// Source is a platform event pump.
type Source interface {
	// Run connects to the desktop, reports start-up on started (nil once events flow, or the
	// error that stopped it) and then feeds sink until ctx is cancelled. It returns nil on
	// cancellation. started is sent to exactly once.
	Run(ctx context.Context, started chan<- error, sink Sink) error
}

// Options configures New. The zero value suits a normal desktop session.
type Options struct {
	// Display names the X11 display; "" uses $DISPLAY. Ignored on Windows.
	Display string
	// XAuthority is the path of the X authority file; "" uses $XAUTHORITY, then ~/.Xauthority.
	XAuthority string
	// NoClipboard turns off clipboard classification (paste of a PAN is then not detected).
	NoClipboard bool
	// NoAccessibility turns off field identity through AT-SPI / UI Automation; the detector
	// then masks whole windows.
	NoAccessibility bool
}

// New returns the platform's Source. log gets a "component" attribute added.
func New(opts Options, log *slog.Logger) (Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newSource(opts, log.With("component", "hooks"))
}
