package tray

import "golang.org/x/sys/windows"

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go

//sys	openClipboard(hwnd windows.Handle) (err error) = user32.OpenClipboard
//sys	closeClipboard() (err error) = user32.CloseClipboard
//sys	emptyClipboard() (err error) = user32.EmptyClipboard
//sys	setClipboardData(format uint32, mem windows.Handle) (h windows.Handle, err error) = user32.SetClipboardData
//sys	globalAlloc(flags uint32, size uintptr) (h windows.Handle, err error) = kernel32.GlobalAlloc
//sys	globalFree(h windows.Handle) (ret windows.Handle, err error) [failretval!=0] = kernel32.GlobalFree
//sys	globalLock(h windows.Handle) (ptr uintptr, err error) = kernel32.GlobalLock
//sys	moveMemory(dst uintptr, src *uint16, size uintptr) = kernel32.RtlMoveMemory
//sys	globalUnlock(h windows.Handle) (locked bool) = kernel32.GlobalUnlock
//sys	postThreadMessage(threadID uint32, msg uint32, wparam uintptr, lparam uintptr) (err error) = user32.PostThreadMessageW
//sys	peekMessage(msg *winMsg, hwnd windows.Handle, min uint32, max uint32, remove uint32) (got bool) = user32.PeekMessageW

// winMsg is the Win32 MSG structure.
type winMsg struct {
	hwnd    windows.Handle
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
}
