//go:build windows

package prio

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

func priorityClass(t *testing.T) uint32 {
	t.Helper()
	c, err := windows.GetPriorityClass(windows.CurrentProcess())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRaiseAboveNormal: a negative nice value moves the process to the above-normal class;
// 0 leaves it as it is.
func TestRaiseAboveNormal(t *testing.T) {
	before := priorityClass(t)
	t.Cleanup(func() { _ = windows.SetPriorityClass(windows.CurrentProcess(), before) })
	if err := Raise(os.Getpid(), 0); err != nil {
		t.Fatal(err)
	}
	if got := priorityClass(t); got != before {
		t.Fatalf("nice 0 changed the priority class from %#x to %#x", before, got)
	}
	if err := Raise(os.Getpid(), -10); err != nil {
		t.Fatal(err)
	}
	if got := priorityClass(t); got != windows.ABOVE_NORMAL_PRIORITY_CLASS {
		t.Fatalf("priority class %#x, want above normal (%#x)", got, windows.ABOVE_NORMAL_PRIORITY_CLASS)
	}
	if err := Raise(os.Getpid(), 3); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Raise(nice 3) = %v, want out of range", err)
	}
}
