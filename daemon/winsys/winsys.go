// Package winsys declares the Win32 calls that golang.org/x/sys/windows does not already
// provide, for the Windows implementations of the hooks, overlay, IPC, credential and supervise
// packages. The declarations are //sys lines generated into zsyscall_windows.go by mkwinsyscall;
// nothing here holds state. On other systems the package is empty.
package winsys

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go
