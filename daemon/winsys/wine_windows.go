package winsys

import "golang.org/x/sys/windows"

// IsWine reports whether the process runs under Wine (ntdll exports wine_get_version). Only
// behaviour Wine cannot provide is switched on it — file security descriptors Wine does not
// keep — never masking, and each use says why.
func IsWine() bool {
	ntdll := windows.NewLazySystemDLL("ntdll.dll")
	return ntdll.NewProc("wine_get_version").Find() == nil
}
