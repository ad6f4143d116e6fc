package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/windows"
)

// singleInstance holds a session-local named mutex, so a second helper in the same Windows
// session (the Run key and the service both start one) exits.
func singleInstance(string) (release func(), err error) {
	name, _ := windows.UTF16PtrFromString(`Local\pcipause-session`)
	h, err := windows.CreateMutex(nil, true, name)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		if h != 0 {
			windows.CloseHandle(h)
		}
		return nil, fmt.Errorf("another pcipause-session already runs in this Windows session")
	}
	if err != nil {
		return nil, fmt.Errorf("instance mutex: %w", err)
	}
	return func() { windows.ReleaseMutex(h); windows.CloseHandle(h) }, nil
}

func displayName(string) string { return "WinSta0\\Default" }

func sessionID() string {
	var sid uint32
	if err := windows.ProcessIdToSessionId(uint32(os.Getpid()), &sid); err != nil {
		return "unknown"
	}
	return strconv.FormatUint(uint64(sid), 10)
}
