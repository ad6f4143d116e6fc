package tray_test

import "golang.org/x/sys/windows"

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows_test.go syscall_windows_test.go

//sys	openClipboard(hwnd windows.Handle) (err error) = user32.OpenClipboard
//sys	closeClipboard() (err error) = user32.CloseClipboard
//sys	getClipboardData(format uint32) (h windows.Handle, err error) = user32.GetClipboardData
//sys	globalLock(h windows.Handle) (ptr uintptr, err error) = kernel32.GlobalLock
//sys	globalUnlock(h windows.Handle) (locked bool) = kernel32.GlobalUnlock
//sys	globalSize(h windows.Handle) (size uintptr, err error) = kernel32.GlobalSize
//sys	moveMemory(dst *uint16, src uintptr, size uintptr) = kernel32.RtlMoveMemory
//sys	loadImage(inst windows.Handle, name *uint16, typ uint32, cx int32, cy int32, flags uint32) (h windows.Handle, err error) = user32.LoadImageW
//sys	destroyIcon(icon windows.Handle) (err error) = user32.DestroyIcon
//sys	getIconInfo(icon windows.Handle, info *iconInfo) (err error) = user32.GetIconInfo
//sys	getObject(obj windows.Handle, size int32, buf *bitmap) (n int32) = gdi32.GetObjectW
//sys	deleteObject(obj windows.Handle) (ok bool) = gdi32.DeleteObject
//sys	getDC(hwnd windows.Handle) (dc windows.Handle) = user32.GetDC
//sys	releaseDC(hwnd windows.Handle, dc windows.Handle) (n int32) = user32.ReleaseDC
//sys	getDIBits(dc windows.Handle, bm windows.Handle, start uint32, lines uint32, bits *byte, info *bitmapInfoHeader, usage uint32) (n int32) = gdi32.GetDIBits

type iconInfo struct {
	fIcon    int32
	xHotspot uint32
	yHotspot uint32
	hbmMask  windows.Handle
	hbmColor windows.Handle
}

type bitmap struct {
	bmType       int32
	bmWidth      int32
	bmHeight     int32
	bmWidthBytes int32
	bmPlanes     uint16
	bmBitsPixel  uint16
	bmBits       uintptr
}

type bitmapInfoHeader struct {
	biSize          uint32
	biWidth         int32
	biHeight        int32
	biPlanes        uint16
	biBitCount      uint16
	biCompression   uint32
	biSizeImage     uint32
	biXPelsPerMeter int32
	biYPelsPerMeter int32
	biClrUsed       uint32
	biClrImportant  uint32
	colors          [4]uint32 // room for GetDIBits' colour table
}
