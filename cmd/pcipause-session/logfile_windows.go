package main

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultLogFile is where the helper logs when it has no console to write to, as when the
// service starts it in the agent's session (a GUI-subsystem program has no stderr):
// %LOCALAPPDATA%\pcipause\pcipause-session.log, found through the known-folder API.
func defaultLogFile() string {
	if h, err := windows.GetStdHandle(windows.STD_ERROR_HANDLE); err == nil && h != 0 && h != windows.InvalidHandle {
		return "" // run from a console or with redirected output: log there
	}
	dir, err := windows.KnownFolderPath(windows.FOLDERID_LocalAppData, windows.KF_FLAG_DEFAULT)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "pcipause", "pcipause-session.log")
}
