//go:build linux

package prio

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestMain doubles as the child process of TestRaiseEveryThread: with PRIO_CHILD set it
// starts threads, says so, and waits for its stdin to close.
func TestMain(m *testing.M) {
	if os.Getenv("PRIO_CHILD") == "" {
		os.Exit(m.Run())
	}
	var wg, locked sync.WaitGroup
	block := make(chan struct{})
	for range 4 {
		locked.Add(1)
		wg.Go(func() {
			runtime.LockOSThread() // keep the thread: one OS thread per goroutine
			locked.Done()
			<-block
		})
	}
	locked.Wait() // every goroutine holds its own thread before the parent counts them
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	close(block)
	wg.Wait()
	os.Exit(0)
}

func threads(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

func TestRaiseEveryThread(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "PRIO_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not start: %q %v", line, err)
	}
	pid := cmd.Process.Pid
	tids := threads(t, pid)
	if len(tids) < 5 {
		t.Fatalf("child has %d threads, want at least 5", len(tids))
	}
	err = Raise(pid, -7)
	if os.Geteuid() != 0 {
		// Without CAP_SYS_NICE the kernel refuses, and the error says which thread.
		if err == nil || !strings.Contains(err.Error(), "set nice -7 on thread") {
			t.Fatalf("Raise as an unprivileged user: err = %v, want a refusal naming the thread", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range threads(t, pid) {
		n, err := Nice(tid)
		if err != nil {
			t.Fatal(err)
		}
		if n != -7 {
			t.Errorf("thread %d of %d: nice %d, want -7", tid, len(tids), n)
		}
	}
}

func TestRaiseRefusesBadValues(t *testing.T) {
	for _, n := range []int{-21, 1, 19} {
		if err := Raise(os.Getpid(), n); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Raise(nice %d) = %v, want out of range", n, err)
		}
	}
	if err := Raise(1<<30, -5); err == nil || !strings.Contains(err.Error(), "threads of pid") {
		t.Errorf("Raise(no such pid) = %v, want an error naming the pid", err)
	}
}
