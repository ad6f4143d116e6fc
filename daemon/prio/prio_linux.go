//go:build linux

package prio

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Raise sets the nice value of every thread of process pid. Linux keeps a nice value per
// thread and a new thread inherits its creator's, so the task list is walked until a pass
// finds no thread it has not set. Lowering a nice value below the caller's own needs
// CAP_SYS_NICE: the root service has it, a helper running as the agent does not.
func Raise(pid, nice int) error {
	if err := CheckNice(nice); err != nil {
		return err
	}
	done := map[int]bool{}
	for pass := 0; pass < 8; pass++ {
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			return fmt.Errorf("threads of pid %d: %w", pid, err)
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
				return fmt.Errorf("set nice %d on thread %d of pid %d: %w", nice, tid, pid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("pid %d kept starting threads while its nice value was set", pid)
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
