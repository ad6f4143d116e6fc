// Package prio raises the CPU priority of a session helper. The helper's mask has to win a
// race with the agent's next keystrokes, and on a busy PC the time it waits for a CPU is most
// of its latency (make bench, mask section).
package prio

// DefaultNice is the nice value the Linux service gives verified session helpers.
const DefaultNice = -10

// MinNice and MaxNice bound a configured nice value: 0 leaves the helper alone, and raising
// it is all this package is for.
const (
	MinNice = -20
	MaxNice = 0
)
