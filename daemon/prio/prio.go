// Package prio raises the CPU priority of a session helper. The helper's mask has to win a
// race with the agent's next keystrokes, and on a busy PC the time it waits for a CPU is most
// of its latency (make bench, mask section).
package prio

import "fmt"

// DefaultNice is the nice value the service gives the installed session helper by default
// ([overlay] helper_nice).
const DefaultNice = -10

// MinNice and MaxNice bound a configured nice value: 0 leaves the helper alone, and raising
// it is all this package is for.
const (
	MinNice = -20
	MaxNice = 0
)

// CheckNice reports a nice value outside MinNice..MaxNice.
func CheckNice(nice int) error {
	if nice < MinNice || nice > MaxNice {
		return fmt.Errorf("nice %d out of range [%d, %d] (0 leaves the helper's priority alone)", nice, MinNice, MaxNice)
	}
	return nil
}
