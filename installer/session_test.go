package installer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startXvfb starts a private X server on the first display of :95-:99 it can have and returns
// the display and a function that ends it (the test cleans up either way). Xvfb reports
// readiness on -displayfd and refuses a display whose server is alive; it clears stale locks.
func startXvfb(t *testing.T) (string, func()) {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb not installed (Debian package xvfb)")
	}
	for n := 95; n <= 99; n++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		x := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-displayfd", "3")
		x.ExtraFiles = []*os.File{w}
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		done := make(chan struct{})
		go func() { _ = x.Wait(); close(done) }()
		// SIGTERM, so Xvfb removes its lock file and socket.
		stop := func() {
			_ = x.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = x.Process.Kill()
				<-done
			}
		}
		line, _ := bufio.NewReader(r).ReadString('\n') // EOF when Xvfb gave up on this display
		r.Close()
		if strings.TrimSpace(line) == fmt.Sprint(n) {
			t.Cleanup(stop)
			return fmt.Sprintf(":%d", n), stop
		}
		stop()
	}
	t.Fatal("no free X display in :95-:99")
	return "", nil
}

// waitFor polls cond until it holds or the deadline passes. It waits for an event, it does
// not measure speed.
func waitFor(cond func() bool, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// Issue 6, session helper start: the helper as the autostart entry and the user unit start it
// (the same program, no arguments of its own) runs once per X session — a second copy refuses —
// and exits when its X session ends.
func TestSessionHelperOncePerXSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and the session helper")
	}
	desktop := readFile(t, "linux/pcipause-session.desktop")
	unit := readFile(t, "linux/pcipause-session.service")
	if !strings.Contains(desktop, "\nExec=/usr/bin/pcipause-session\n") || !strings.Contains(unit, "\nExecStart=/usr/bin/pcipause-session\n") {
		t.Fatal("the autostart entry and the user unit no longer start /usr/bin/pcipause-session without arguments; update this test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pcipause-session")
	build := exec.Command("go", "build", "-o", bin, "../cmd/pcipause-session")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pcipause-session: %v\n%s", err, out)
	}
	display, endX := startXvfb(t)
	cfg := filepath.Join(dir, "pcipause.toml")
	doc := "version = 1\n[cxone]\norg = \"acme\"\ntoken_url = \"https://acme.niceincontact.com/authentication/v1/token\"\n" +
		"client_id = \"x\"\n[paths]\nsocket = \"" + filepath.Join(dir, "no-service.sock") + "\"\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DISPLAY="+display, "XDG_RUNTIME_DIR="+dir)
	ready := filepath.Join(dir, "ready")
	helper := func(extra ...string) *exec.Cmd {
		c := exec.Command(bin, append([]string{"--config", cfg, "--no-tray"}, extra...)...)
		c.Env = env
		return c
	}

	first := helper("--ready-file", ready)
	firstOut, err := os.Create(filepath.Join(dir, "first.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer firstOut.Close()
	first.Stdout, first.Stderr = firstOut, firstOut
	firstLog := func() string { b, _ := os.ReadFile(firstOut.Name()); return string(b) }
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	t.Cleanup(func() {
		_ = first.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	if !waitFor(func() bool { _, err := os.Stat(ready); return err == nil }, 60*time.Second) {
		t.Fatalf("the helper never became ready:\n%s", firstLog())
	}

	out, err := helper().CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already runs") {
		t.Errorf("a second helper in the same X session: err=%v\n%s", err, out)
	}

	// End the X session: the X server goes away, as at logout.
	endX()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the helper outlived its X session:\n%s", firstLog())
	}
}
