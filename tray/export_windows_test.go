package tray

// Hooks for the Windows tests in package tray_test, which have Win32 declarations of their own.

// SetClipboardText is setClipboardText.
var SetClipboardText = setClipboardText

// OnApplied sets the hook the loop calls once a status reached the native tray.
func (t *Tray) OnApplied(f func(Status)) { t.applied = f }

// DropApplied is dropApplied.
var DropApplied = dropApplied
