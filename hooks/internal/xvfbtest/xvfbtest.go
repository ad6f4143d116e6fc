//go:build linux

// Package xvfbtest starts a private X server (Xvfb, with an MIT-MAGIC-COOKIE-1 authority file)
// and an EWMH window manager for the hooks' end-to-end tests, and tears them down.
package xvfbtest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Displays is the range of display numbers New tries. `go test ./...` runs packages in
// parallel, so each package that uses this one sets its own range in an init function:
// hooks :70-:74, hooks/detect :60-:64, hooks/atspi :65-:69. Elsewhere xenv.ForTest gives e2e
// :75-:84 and overlay :85-:89, and tray uses :55-:59. Two packages on one range could pick
// the same number as one server exits, and its clean-up would remove the other's socket.
var Displays = [2]int{70, 74}

// Env is a running Xvfb (and window manager).
type Env struct {
	Display    string // ":70"
	XAuthority string // path of the authority file
	DBus       string // session bus address after SessionBus, else ""
	dir        string
}

// Environ returns os.Environ with DISPLAY and XAUTHORITY pointing at the private server.
func (e *Env) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "XAUTHORITY=") {
			out = append(out, kv)
		}
	}
	out = append(out, "DISPLAY="+e.Display, "XAUTHORITY="+e.XAuthority)
	if e.DBus != "" {
		out = append(out, "DBUS_SESSION_BUS_ADDRESS="+e.DBus, "NO_AT_BRIDGE=0", "GTK_MODULES=gail:atk-bridge")
	}
	return out
}

// SessionBus starts a private D-Bus session bus for the display (so the AT-SPI bus launcher
// can be activated on it), points this process's DBUS_SESSION_BUS_ADDRESS at it for the
// test, and stops it at cleanup.
func (e *Env) SessionBus(t *testing.T) {
	t.Helper()
	Need(t, "dbus-daemon")
	// A socket in the test's own directory marks everything the bus activates (the AT-SPI
	// bus launcher, its bus and registry daemon): they inherit the address, and outlive the
	// bus unless stopped, so cleanup stops them by that mark.
	addr := "unix:path=" + filepath.Join(e.dir, "bus")
	cmd := e.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1", "--address="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		killActivated(addr)
	})
	line := make([]byte, 0, 256)
	b := make([]byte, 1)
	for {
		if _, err := out.Read(b); err != nil {
			t.Fatalf("dbus-daemon address: %v", err)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	e.DBus = strings.TrimSpace(string(line))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", e.DBus)
}

// Command builds a command that runs on the private display.
func (e *Env) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = e.Environ()
	return cmd
}

// Output runs a command on the display and returns its trimmed stdout.
func (e *Env) Output(t testing.TB, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := e.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// Start starts a process on the display and kills it at cleanup.
func (e *Env) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := e.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// Need skips the test when one of the binaries is not installed.
func Need(t testing.TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", b)
		}
	}
}

// New starts Xvfb on the first free display in Displays with a fresh cookie, and openbox when
// wm is true, and stops both at cleanup.
func New(t testing.TB, wm bool) *Env {
	t.Helper()
	Need(t, "Xvfb")
	if wm {
		Need(t, "openbox")
	}
	dir := t.TempDir()
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	host, _ := os.Hostname()
	var lastErr error
	for n := Displays[0]; n <= Displays[1]; n++ {
		if !free(n) {
			continue
		}
		e := &Env{Display: ":" + strconv.Itoa(n), XAuthority: filepath.Join(dir, fmt.Sprintf("xauth%d", n)), dir: dir}
		if err := os.WriteFile(e.XAuthority, authEntry(host, n, cookie), 0o600); err != nil {
			t.Fatal(err)
		}
		var logBuf bytes.Buffer
		x := exec.Command("Xvfb", e.Display, "-nolisten", "tcp", "-auth", e.XAuthority, "-screen", "0", "1280x1024x24", "-noreset")
		x.Stdout, x.Stderr = &logBuf, &logBuf
		if err := x.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- x.Wait() }()
		if err := waitSocket(n, x.Process.Pid, exited); err != nil {
			_ = x.Process.Kill()
			lastErr = fmt.Errorf("Xvfb %s: %v: %s", e.Display, err, logBuf.String())
			continue
		}
		t.Cleanup(func() {
			// SIGTERM, not SIGKILL: Xvfb removes its lock file and socket only then.
			_ = x.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = x.Process.Kill()
				<-exited
			}
		})
		if wm {
			e.Start(t, "openbox", "--sm-disable")
			e.waitWM(t)
		}
		return e
	}
	t.Fatalf("no free display in :%d-:%d: %v", Displays[0], Displays[1], lastErr)
	return nil
}

// free reports whether display n is unused, removing the lock and socket a killed server
// left behind (its pid no longer runs).
func free(n int) bool {
	lock := fmt.Sprintf("/tmp/.X%d-lock", n)
	b, err := os.ReadFile(lock)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil || pid <= 0 {
		return false
	}
	if syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	_ = os.Remove(lock)
	_ = os.Remove(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
	return true
}

// waitSocket waits until our server holds the display (its pid in the lock file) and its
// socket exists, or until it exits (another test run took the display first).
func waitSocket(n, pid int, exited <-chan error) error {
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	lock := fmt.Sprintf("/tmp/.X%d-lock", n)
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-deadline:
			return errors.New("no socket after 20s")
		case <-tick.C:
			b, err := os.ReadFile(lock)
			if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
				continue
			}
			if _, err := os.Stat(sock); err == nil {
				return nil
			}
		}
	}
}

// killActivated stops the processes whose environment names our bus address: the services
// our private bus started, and nothing else.
func killActivated(addr string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(env, []byte("DBUS_SESSION_BUS_ADDRESS="+addr)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// waitWM waits until the window manager announces itself (_NET_SUPPORTING_WM_CHECK).
func (e *Env) waitWM(t testing.TB) {
	t.Helper()
	Need(t, "xprop")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := e.Command("xprop", "-root", "_NET_SUPPORTING_WM_CHECK").Output()
		if bytes.Contains(out, []byte("window id")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("openbox did not start within 20s")
}

// authEntry is one Xauthority record: FamilyLocal, host, display number, MIT-MAGIC-COOKIE-1.
func authEntry(host string, n int, cookie []byte) []byte {
	var b bytes.Buffer
	put := func(s []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(s)))
		b.Write(s)
	}
	_ = binary.Write(&b, binary.BigEndian, uint16(256))
	put([]byte(host))
	put([]byte(strconv.Itoa(n)))
	put([]byte("MIT-MAGIC-COOKIE-1"))
	put(cookie)
	return b.Bytes()
}
