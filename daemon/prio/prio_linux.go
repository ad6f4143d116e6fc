//go:build linux

package prio

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Raise sets the nice value of every thread of process pid. Linux keeps a nice value per
// thread and a new thread inherits its creator's, so a thread being cloned while the walk
// runs can come out with the old value and appear in the task list only after the walk has
// passed. The task list is therefore walked until a pass, made after a short pause, finds
// every thread already at the value. Lowering a nice value below the caller's own needs
// CAP_SYS_NICE: the root service has it, a helper running as the agent does not.
func Raise(pid, nice int) error {
	if err := CheckNice(nice); err != nil {
		return err
	}
	for pass := 0; pass < 8; pass++ {
		if pass > 0 {
			// Long enough for a clone begun before the last pass to finish and be listed.
			time.Sleep(time.Duration(pass) * time.Millisecond)
		}
		set, err := raisePass(pid, nice)
		if err != nil {
			return err
		}
		if set == 0 && pass > 0 {
			return nil
		}
	}
	return fmt.Errorf("pid %d kept starting threads while its nice value was set", pid)
}

// raisePass sets nice on every listed thread of pid that does not have it yet and says how
// many it set.
func raisePass(pid, nice int) (int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return 0, fmt.Errorf("threads of pid %d: %w", pid, err)
	}
	set := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if n, err := Nice(tid); err == nil && n == nice {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
			return 0, fmt.Errorf("set nice %d on thread %d of pid %d: %w", nice, tid, pid, err)
		}
		set++
	}
	return set, nil
}

// Nice reports the nice value of thread tid (a process's main thread has tid = pid).
func Nice(tid int) (int, error) {
	// The raw system call returns 20 - nice, so that the result is never negative.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, fmt.Errorf("nice of thread %d: %w", tid, err)
	}
	return 20 - p, nil
}
