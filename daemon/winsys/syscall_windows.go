package winsys

import (
	"golang.org/x/sys/windows"
)

// Window messages, styles and constants the Windows implementations share. Values are from the
// Windows SDK headers (winuser.h, wingdi.h, wtsapi32.h).
const (
	WH_KEYBOARD_LL = 13

	HC_ACTION = 0

	WM_NULL              = 0x0000
	WM_DESTROY           = 0x0002
	WM_CLOSE             = 0x0010
	WM_QUIT              = 0x0012
	WM_PAINT             = 0x000F
	WM_ERASEBKGND        = 0x0014
	WM_NCHITTEST         = 0x0084
	WM_KEYDOWN           = 0x0100
	WM_KEYUP             = 0x0101
	WM_SYSKEYDOWN        = 0x0104
	WM_SYSKEYUP          = 0x0105
	WM_TIMER             = 0x0113
	WM_CLIPBOARDUPDATE   = 0x031D
	WM_WTSSESSION_CHANGE = 0x02B1
	WM_USER              = 0x0400
	WM_APP               = 0x8000

	HTTRANSPARENT = ^uintptr(0) // -1

	// Low-level keyboard hook flags (KBDLLHOOKSTRUCT.flags).
	LLKHF_EXTENDED = 0x01
	LLKHF_INJECTED = 0x10
	LLKHF_UP       = 0x80

	WS_POPUP   = 0x80000000
	WS_VISIBLE = 0x10000000

	WS_EX_TOPMOST     = 0x00000008
	WS_EX_TRANSPARENT = 0x00000020
	WS_EX_TOOLWINDOW  = 0x00000080
	WS_EX_LAYERED     = 0x00080000
	WS_EX_NOACTIVATE  = 0x08000000

	LWA_COLORKEY = 0x1
	LWA_ALPHA    = 0x2

	SW_HIDE           = 0
	SW_SHOWNOACTIVATE = 4
	SW_SHOWNA         = 8

	SWP_NOSIZE         = 0x0001
	SWP_NOMOVE         = 0x0002
	SWP_NOZORDER       = 0x0004
	SWP_NOREDRAW       = 0x0008
	SWP_NOACTIVATE     = 0x0010
	SWP_SHOWWINDOW     = 0x0040
	SWP_HIDEWINDOW     = 0x0080
	SWP_NOOWNERZORDER  = 0x0200
	SWP_NOSENDCHANGING = 0x0400
	SWP_ASYNCWINDOWPOS = 0x4000

	HWND_TOPMOST = ^uintptr(0) // (HWND)-1
	HWND_MESSAGE = ^uintptr(2) // (HWND)-3, parent of message-only windows

	INPUT_KEYBOARD  = 1
	KEYEVENTF_KEYUP = 0x0002

	PM_REMOVE = 0x0001

	SMTO_NORMAL            = 0x0000
	SMTO_BLOCK             = 0x0001
	SMTO_ABORTIFHUNG       = 0x0002
	GWL_EXSTYLE            = -20
	NONANTIALIASED_QUALITY = 3
	DEFAULT_CHARSET        = 1

	WINEVENT_OUTOFCONTEXT   = 0x0000
	WINEVENT_SKIPOWNPROCESS = 0x0002

	EVENT_SYSTEM_FOREGROUND     = 0x0003
	EVENT_OBJECT_DESTROY        = 0x8001
	EVENT_OBJECT_SHOW           = 0x8002
	EVENT_OBJECT_HIDE           = 0x8003
	EVENT_OBJECT_FOCUS          = 0x8005
	EVENT_OBJECT_LOCATIONCHANGE = 0x800B
	OBJID_WINDOW                = 0
	OBJID_CARET                 = -8
	CHILDID_SELF                = 0

	GMEM_MOVEABLE  = 0x0002
	CF_TEXT        = 1
	CF_UNICODETEXT = 13

	SRCCOPY         = 0x00CC0020
	CAPTUREBLT      = 0x40000000
	DIB_RGB_COLORS  = 0
	BI_RGB          = 0
	TRANSPARENT_BK  = 1
	FW_BOLD         = 700
	DT_CENTER       = 0x0001
	DT_VCENTER      = 0x0004
	DT_SINGLELINE   = 0x0020
	DT_NOPREFIX     = 0x0800
	DT_END_ELLIPSIS = 0x8000

	WDA_NONE    = 0x0
	WDA_MONITOR = 0x1

	NOTIFY_FOR_ALL_SESSIONS = 1
	WTSWinStationName       = 6
	WTSUserName             = 5
	WTSDomainName           = 7
	NOTIFY_FOR_THIS_SESSION = 0

	// WM_WTSSESSION_CHANGE wParam values.
	WTS_CONSOLE_CONNECT    = 0x1
	WTS_CONSOLE_DISCONNECT = 0x2
	WTS_REMOTE_CONNECT     = 0x3
	WTS_REMOTE_DISCONNECT  = 0x4
	WTS_SESSION_LOGON      = 0x5
	WTS_SESSION_LOGOFF     = 0x6
	WTS_SESSION_LOCK       = 0x7
	WTS_SESSION_UNLOCK     = 0x8

	SM_XVIRTUALSCREEN  = 76
	SM_YVIRTUALSCREEN  = 77
	SM_CXVIRTUALSCREEN = 78
	SM_CYVIRTUALSCREEN = 79

	VK_BACK      = 0x08
	VK_TAB       = 0x09
	VK_RETURN    = 0x0D
	VK_SHIFT     = 0x10
	VK_CONTROL   = 0x11
	VK_MENU      = 0x12
	VK_ESCAPE    = 0x1B
	VK_SPACE     = 0x20
	VK_LEFT      = 0x25
	VK_UP        = 0x26
	VK_RIGHT     = 0x27
	VK_DOWN      = 0x28
	VK_INSERT    = 0x2D
	VK_DELETE    = 0x2E
	VK_0         = 0x30
	VK_9         = 0x39
	VK_A         = 0x41
	VK_V         = 0x56
	VK_Z         = 0x5A
	VK_NUMPAD0   = 0x60
	VK_NUMPAD9   = 0x69
	VK_SUBTRACT  = 0x6D
	VK_LWIN      = 0x5B
	VK_RWIN      = 0x5C
	VK_NUMLOCK   = 0x90
	VK_CAPITAL   = 0x14
	VK_LMENU     = 0xA4
	VK_RMENU     = 0xA5
	VK_C         = 0x43
	VK_U         = 0x55
	VK_HOME      = 0x24
	VK_END       = 0x23
	VK_F1        = 0x70
	VK_F24       = 0x87
	VK_DECIMAL   = 0x6E
	VK_SEPARATOR = 0x6C
	VK_LSHIFT    = 0xA0
	VK_RSHIFT    = 0xA1
	VK_LCONTROL  = 0xA2
	VK_RCONTROL  = 0xA3
	VK_OEM_MINUS = 0xBD

	// DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 as a handle value, (DPI_AWARENESS_CONTEXT)-4.
	DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = ^uintptr(3)
)

// KBDLLHOOKSTRUCT is what WH_KEYBOARD_LL passes in lParam.
type KBDLLHOOKSTRUCT struct {
	VkCode      uint32
	ScanCode    uint32
	Flags       uint32
	Time        uint32
	DwExtraInfo uintptr
}

// KEYBDINPUT is an INPUT record of type INPUT_KEYBOARD for SendInput (the union padded to the
// size of the largest member, MOUSEINPUT, on 64-bit Windows).
type KEYBDINPUT struct {
	Type      uint32
	_         uint32
	Vk        uint16
	Scan      uint16
	Flags     uint32
	Time      uint32
	_         uint32
	ExtraInfo uintptr
	_         [8]byte
}

// MSG is the Win32 message record.
type MSG struct {
	Hwnd    windows.HWND
	Message uint32
	WParam  uintptr
	LParam  uintptr
	Time    uint32
	Pt      POINT
	Private uint32
}

// POINT is a screen or client coordinate.
type POINT struct {
	X, Y int32
}

// WNDCLASSEX registers a window class.
type WNDCLASSEX struct {
	Size       uint32
	Style      uint32
	WndProc    uintptr
	ClsExtra   int32
	WndExtra   int32
	Instance   windows.Handle
	Icon       windows.Handle
	Cursor     windows.Handle
	Background windows.Handle
	MenuName   *uint16
	ClassName  *uint16
	IconSm     windows.Handle
}

// PAINTSTRUCT is filled by BeginPaint.
type PAINTSTRUCT struct {
	Hdc         windows.Handle
	Erase       int32
	RcPaint     windows.Rect
	Restore     int32
	IncUpdate   int32
	RgbReserved [32]byte
}

// BITMAPINFOHEADER describes a DIB for GetDIBits.
type BITMAPINFOHEADER struct {
	Size          uint32
	Width         int32
	Height        int32
	Planes        uint16
	BitCount      uint16
	Compression   uint32
	SizeImage     uint32
	XPelsPerMeter int32
	YPelsPerMeter int32
	ClrUsed       uint32
	ClrImportant  uint32
}

//sys	SetWindowsHookEx(idHook int32, fn uintptr, mod windows.Handle, threadID uint32) (hook windows.Handle, err error) = user32.SetWindowsHookExW
//sys	UnhookWindowsHookEx(hook windows.Handle) (err error) = user32.UnhookWindowsHookEx
//sys	CallNextHookEx(hook windows.Handle, code int32, wParam uintptr, lParam uintptr) (ret uintptr) = user32.CallNextHookEx
//sys	SetWinEventHook(eventMin uint32, eventMax uint32, mod windows.Handle, fn uintptr, pid uint32, tid uint32, flags uint32) (hook windows.Handle, err error) [failretval==0] = user32.SetWinEventHook
//sys	UnhookWinEvent(hook windows.Handle) (ok bool) = user32.UnhookWinEvent
//sys	GetMessage(msg *MSG, hwnd windows.HWND, msgMin uint32, msgMax uint32) (ret int32, err error) [failretval==-1] = user32.GetMessageW
//sys	PeekMessage(msg *MSG, hwnd windows.HWND, msgMin uint32, msgMax uint32, remove uint32) (ok bool) = user32.PeekMessageW
//sys	TranslateMessage(msg *MSG) (ok bool) = user32.TranslateMessage
//sys	DispatchMessage(msg *MSG) (ret uintptr) = user32.DispatchMessageW
//sys	PostThreadMessage(tid uint32, msg uint32, wParam uintptr, lParam uintptr) (err error) = user32.PostThreadMessageW
//sys	PostMessage(hwnd windows.HWND, msg uint32, wParam uintptr, lParam uintptr) (err error) = user32.PostMessageW
//sys	SendMessage(hwnd windows.HWND, msg uint32, wParam uintptr, lParam uintptr) (ret uintptr) = user32.SendMessageW
//sys	PostQuitMessage(code int32) = user32.PostQuitMessage
//sys	SendMessageTimeout(hwnd windows.HWND, msg uint32, wParam uintptr, lParam uintptr, flags uint32, timeoutMs uint32, result *uintptr) (err error) = user32.SendMessageTimeoutW
//sys	IsWindow(hwnd windows.HWND) (ok bool) = user32.IsWindow
//sys	GetWindowLongPtr(hwnd windows.HWND, index int32) (val uintptr) = user32.GetWindowLongPtrW
//sys	DefWindowProc(hwnd windows.HWND, msg uint32, wParam uintptr, lParam uintptr) (ret uintptr) = user32.DefWindowProcW
//sys	RegisterClassEx(wc *WNDCLASSEX) (atom uint16, err error) = user32.RegisterClassExW
//sys	UnregisterClass(className *uint16, instance windows.Handle) (err error) = user32.UnregisterClassW
//sys	CreateWindowEx(exStyle uint32, className *uint16, windowName *uint16, style uint32, x int32, y int32, width int32, height int32, parent windows.HWND, menu windows.Handle, instance windows.Handle, param uintptr) (hwnd windows.HWND, err error) = user32.CreateWindowExW
//sys	DestroyWindow(hwnd windows.HWND) (err error) = user32.DestroyWindow
//sys	ShowWindow(hwnd windows.HWND, cmd int32) (wasVisible bool) = user32.ShowWindow
//sys	SetWindowPos(hwnd windows.HWND, after uintptr, x int32, y int32, cx int32, cy int32, flags uint32) (err error) = user32.SetWindowPos
//sys	SetLayeredWindowAttributes(hwnd windows.HWND, key uint32, alpha byte, flags uint32) (err error) = user32.SetLayeredWindowAttributes
//sys	SetWindowDisplayAffinity(hwnd windows.HWND, affinity uint32) (err error) = user32.SetWindowDisplayAffinity
//sys	GetClientRect(hwnd windows.HWND, rect *windows.Rect) (err error) = user32.GetClientRect
//sys	GetKeyboardLayout(tid uint32) (hkl windows.Handle) = user32.GetKeyboardLayout
//sys	VkKeyScanEx(ch uint16, hkl windows.Handle) (ret int16) = user32.VkKeyScanExW
//sys	SendInput(n uint32, inputs *KEYBDINPUT, size int32) (sent uint32, err error) = user32.SendInput
//sys	GetWindowRect(hwnd windows.HWND, rect *windows.Rect) (err error) = user32.GetWindowRect
//sys	ClientToScreen(hwnd windows.HWND, pt *POINT) (err error) = user32.ClientToScreen
//sys	GetWindowText(hwnd windows.HWND, buf *uint16, max int32) (n int32) = user32.GetWindowTextW
//sys	GetAncestor(hwnd windows.HWND, flags uint32) (root windows.HWND) = user32.GetAncestor
//sys	InvalidateRect(hwnd windows.HWND, rect *windows.Rect, erase bool) (err error) = user32.InvalidateRect
//sys	UpdateWindow(hwnd windows.HWND) (err error) = user32.UpdateWindow
//sys	BeginPaint(hwnd windows.HWND, ps *PAINTSTRUCT) (hdc windows.Handle) = user32.BeginPaint
//sys	EndPaint(hwnd windows.HWND, ps *PAINTSTRUCT) (ok bool) = user32.EndPaint
//sys	FillRect(hdc windows.Handle, rect *windows.Rect, brush windows.Handle) (ret int32) = user32.FillRect
//sys	DrawText(hdc windows.Handle, text *uint16, n int32, rect *windows.Rect, format uint32) (height int32) = user32.DrawTextW
//sys	GetDC(hwnd windows.HWND) (hdc windows.Handle) = user32.GetDC
//sys	ReleaseDC(hwnd windows.HWND, hdc windows.Handle) (ret int32) = user32.ReleaseDC
//sys	GetSystemMetrics(index int32) (ret int32) = user32.GetSystemMetrics
//sys	GetKeyState(vk int32) (state int16) = user32.GetKeyState
//sys	GetAsyncKeyState(vk int32) (state int16) = user32.GetAsyncKeyState
//sys	AddClipboardFormatListener(hwnd windows.HWND) (err error) = user32.AddClipboardFormatListener
//sys	RemoveClipboardFormatListener(hwnd windows.HWND) (err error) = user32.RemoveClipboardFormatListener
//sys	OpenClipboard(hwnd windows.HWND) (err error) = user32.OpenClipboard
//sys	CloseClipboard() (err error) = user32.CloseClipboard
//sys	EmptyClipboard() (err error) = user32.EmptyClipboard
//sys	SetClipboardData(format uint32, mem windows.Handle) (h windows.Handle, err error) = user32.SetClipboardData
//sys	SetForegroundWindow(hwnd windows.HWND) (ok bool) = user32.SetForegroundWindow
//sys	GetClipboardData(format uint32) (h windows.Handle, err error) = user32.GetClipboardData
//sys	IsClipboardFormatAvailable(format uint32) (ok bool) = user32.IsClipboardFormatAvailable
//sys	SetProcessDpiAwarenessContext(ctx uintptr) (err error) = user32.SetProcessDpiAwarenessContext
//sys	SetTimer(hwnd windows.HWND, id uintptr, ms uint32, fn uintptr) (ret uintptr, err error) = user32.SetTimer
//sys	KillTimer(hwnd windows.HWND, id uintptr) (err error) = user32.KillTimer

//sys	WTSRegisterSessionNotification(hwnd windows.HWND, flags uint32) (err error) = wtsapi32.WTSRegisterSessionNotification
//sys	WTSQuerySessionInformation(server windows.Handle, session uint32, class uint32, buf **uint16, n *uint32) (err error) = wtsapi32.WTSQuerySessionInformationW
//sys	WTSUnRegisterSessionNotification(hwnd windows.HWND) (err error) = wtsapi32.WTSUnRegisterSessionNotification

//sys	GlobalLock(h windows.Handle) (ptr uintptr, err error) = kernel32.GlobalLock
//sys	GlobalUnlock(h windows.Handle) (err error) [failretval==0&&e1!=0] = kernel32.GlobalUnlock
//sys	GlobalAlloc(flags uint32, size uintptr) (h windows.Handle, err error) = kernel32.GlobalAlloc
//sys	GlobalSize(h windows.Handle) (size uintptr, err error) = kernel32.GlobalSize
//sys	GetCurrentThreadId() (tid uint32) = kernel32.GetCurrentThreadId
//sys	GetNamedPipeClientSessionId(pipe windows.Handle, session *uint32) (err error) = kernel32.GetNamedPipeClientSessionId
//sys	GetNamedPipeServerSessionId(pipe windows.Handle, session *uint32) (err error) = kernel32.GetNamedPipeServerSessionId
//sys	GetModuleHandle(name *uint16) (mod windows.Handle, err error) = kernel32.GetModuleHandleW

//sys	CreateSolidBrush(color uint32) (brush windows.Handle) = gdi32.CreateSolidBrush
//sys	DeleteObject(obj windows.Handle) (ok bool) = gdi32.DeleteObject
//sys	CreateCompatibleDC(hdc windows.Handle) (mem windows.Handle, err error) = gdi32.CreateCompatibleDC
//sys	CreateCompatibleBitmap(hdc windows.Handle, cx int32, cy int32) (bmp windows.Handle, err error) = gdi32.CreateCompatibleBitmap
//sys	SelectObject(hdc windows.Handle, obj windows.Handle) (prev windows.Handle) = gdi32.SelectObject
//sys	DeleteDC(hdc windows.Handle) (ok bool) = gdi32.DeleteDC
//sys	BitBlt(dst windows.Handle, x int32, y int32, cx int32, cy int32, src windows.Handle, x1 int32, y1 int32, rop uint32) (err error) = gdi32.BitBlt
//sys	GetDIBits(hdc windows.Handle, bmp windows.Handle, start uint32, lines uint32, bits *byte, info *BITMAPINFOHEADER, usage uint32) (n int32) = gdi32.GetDIBits
//sys	SetTextColor(hdc windows.Handle, color uint32) (prev uint32) = gdi32.SetTextColor
//sys	SetBkMode(hdc windows.Handle, mode int32) (prev int32) = gdi32.SetBkMode
//sys	CreateFont(height int32, width int32, escapement int32, orientation int32, weight int32, italic uint32, underline uint32, strikeOut uint32, charSet uint32, outPrecision uint32, clipPrecision uint32, quality uint32, pitchAndFamily uint32, face *uint16) (font windows.Handle) = gdi32.CreateFontW
