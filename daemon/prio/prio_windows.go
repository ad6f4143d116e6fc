//go:build windows

package prio

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// Raise moves process pid to the above-normal priority class when nice is below zero (Windows
// has classes, not nice values; above-normal is the highest class that cannot starve the
// desktop). The LocalSystem service may do this to any process of an interactive session.
func Raise(pid, nice int) error {
	if err := CheckNice(nice); err != nil {
		return err
	}
	if nice == 0 {
		return nil
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_INFORMATION, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open pid %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.SetPriorityClass(h, windows.ABOVE_NORMAL_PRIORITY_CLASS); err != nil {
		return fmt.Errorf("priority class of pid %d: %w", pid, err)
	}
	return nil
}
