//go:build linux

package ipc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a session helper in a child process (to connect as
// a different uid): it dials the socket named in the variable and prints what it receives.
const helperEnv = "PCIPAUSE_IPC_TEST_DIAL"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(helperMain(path))
	}
	goleak.VerifyTestMain(m)
}

func helperMain(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		fmt.Println("dial error:", err)
		return 1
	}
	defer c.Close()
	fmt.Printf("server uid=%d\n", c.Peer().UID)
	_ = c.Send(Hello{Proto: 1, PID: os.Getpid()})
	for {
		m, err := c.Recv()
		if err != nil {
			fmt.Println("recv:", err)
			return 0
		}
		fmt.Printf("got %s %+v\n", m.Type(), m)
	}
}

// sockDir is a short private directory: unix socket paths are limited to 108 bytes.
func sockDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// accept runs Accept on its own goroutine and hands back the result; the caller closes the
// listener, which ends it.
func accept(l *Listener) <-chan *Conn {
	ch := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-time.After(30 * time.Second): // a failsafe against hangs, not a speed assertion
		t.Fatalf("%s: nothing after 30s", what)
	}
	var zero T
	return zero
}

func TestSocketRoundTripAndPeer(t *testing.T) {
	path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
	l, err := Listen(path, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket %v mode %v", err, fi.Mode())
	}
	acc := accept(l)
	cli, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv := within(t, acc, "accept")
	defer srv.Close()

	exe, _ := os.Executable()
	for side, p := range map[string]Peer{"server sees": srv.Peer(), "client sees": cli.Peer()} {
		if p.UID != os.Getuid() || p.GID != os.Getgid() || p.PID != os.Getpid() || p.Exe != exe || p.User == "" {
			t.Errorf("%s peer %+v, want uid %d gid %d pid %d exe %s", side, p, os.Getuid(), os.Getgid(), os.Getpid(), exe)
		}
	}
	for _, m := range allMessages() {
		var from, to *Conn = cli, srv
		if strings.Contains("welcome state status error", string(m.Type())) {
			from, to = srv, cli
		}
		if err := from.Send(m); err != nil {
			t.Fatalf("send %s: %v", m.Type(), err)
		}
		got, err := to.Recv()
		if err != nil {
			t.Fatalf("recv %s: %v", m.Type(), err)
		}
		if got.Type() != m.Type() {
			t.Fatalf("got %s, want %s", got.Type(), m.Type())
		}
	}
	// A read deadline ends a Recv that gets nothing.
	_ = srv.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := srv.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Recv after deadline = %v", err)
	}
	cli.Close()
	_ = srv.SetReadDeadline(time.Time{})
	if _, err := srv.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after peer close = %v, want EOF", err)
	}
}

func TestRefusedPeer(t *testing.T) {
	path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
	l, err := Listen(path, testLog(t), WithAuthorizer(AllowUIDs(4242)))
	if err != nil {
		t.Fatal(err)
	}
	acc := accept(l)
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	e, ok := m.(Error)
	if !ok || !strings.Contains(e.Msg, "not authorized") || !strings.Contains(e.Msg, fmt.Sprint(os.Getuid())) {
		t.Errorf("refusal message %#v", m)
	}
	if _, err := c.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after refusal Recv = %v, want EOF", err)
	}
	l.Close()
	if c, ok := <-acc; ok {
		c.Close()
		t.Error("Accept returned a refused connection")
	}
}

// TestRefusedOtherUser connects from a child process running as nobody (uid 65534) to a
// root-run listener with the default authorizer (only its own uid): the kernel's SO_PEERCRED
// identifies the child, the service refuses it, and the child learns why.
func TestRefusedOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	dir := sockDir(t, 0o755)
	path := filepath.Join(dir, "ipc.sock")
	l, err := Listen(path, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	refused := make(chan Peer, 1)
	l.auth = func(p Peer) error {
		refused <- p
		return AllowUIDs(0)(p)
	}
	acc := accept(l)
	exe, _ := os.Executable()
	// The test binary must be readable and executable by nobody.
	cp := filepath.Join(dir, "helper.test")
	if b, err := os.ReadFile(exe); err != nil || os.WriteFile(cp, b, 0o755) != nil {
		t.Fatal("copy test binary")
	}
	cmd := exec.Command(cp, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	p := within(t, refused, "authorizer call")
	if p.UID != 65534 || p.GID != 65534 || p.PID != cmd.Process.Pid || p.Exe != cp {
		t.Errorf("peer %+v, want uid 65534 pid %d exe %s", p, cmd.Process.Pid, cp)
	}
	for _, want := range []string{"server uid=0", "got error", "not authorized: uid 65534", "recv: "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("helper output lacks %q:\n%s", want, out)
		}
	}
	l.Close()
	if c, ok := <-acc; ok {
		c.Close()
		t.Error("Accept returned a refused connection")
	}
}

func TestTrustedServer(t *testing.T) {
	tests := []struct {
		uid int
		ok  bool
	}{{0, true}, {os.Geteuid(), true}, {65534, os.Geteuid() == 65534}}
	for _, tt := range tests {
		if err := trustedServer(Peer{UID: tt.uid}); (err == nil) != tt.ok {
			t.Errorf("trustedServer(uid %d) = %v", tt.uid, err)
		}
	}
}

func TestGarbageFrames(t *testing.T) {
	path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
	var logBuf syncBuffer
	l, err := Listen(path, slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		name   string
		write  []byte
		fatal  bool
		kind   error
		thenOK bool // a valid frame after it is still read
	}{
		{"not json", frame([]byte("GET / HTTP/1.1\r\n")), false, ErrMalformed, true},
		{"unknown version", frame([]byte(`{"v":9,"type":"heartbeat"}`)), false, ErrVersion, true},
		{"unknown type", frame([]byte(`{"v":1,"type":"shell"}`)), false, ErrUnknownType, true},
		{"card digits", frame([]byte(`{"v":1,"type":"pci_open","episode":1,"kind":"pan","field":"4111 1111 1111 1111"}`)), false, ErrMalformed, true},
		{"oversize prefix", binary.BigEndian.AppendUint32(nil, 1<<30), true, ErrOversize, false},
		{"truncated", append(binary.BigEndian.AppendUint32(nil, 100), "{}"...), true, ErrShortFrame, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := accept(l)
			raw, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			srv := within(t, acc, "accept")
			defer srv.Close()
			if _, err := raw.Write(tt.write); err != nil {
				t.Fatal(err)
			}
			if tt.name == "truncated" {
				raw.(*net.UnixConn).CloseWrite()
			}
			_, err = srv.Recv()
			var pe *ProtoError
			if !errors.As(err, &pe) || !errors.Is(err, tt.kind) || pe.Fatal != tt.fatal {
				t.Fatalf("Recv = %v, want %v fatal=%v", err, tt.kind, tt.fatal)
			}
			if strings.Contains(err.Error(), "4111") {
				t.Errorf("error repeats card digits: %v", err)
			}
			if tt.thenOK {
				raw.Write(frame([]byte(`{"v":1,"type":"heartbeat"}`)))
				if m, err := srv.Recv(); err != nil || m.Type() != TypeHeartbeat {
					t.Errorf("next frame: %v %v", m, err)
				}
			}
		})
	}
	if out := logBuf.String(); strings.Contains(out, "4111") || !strings.Contains(out, "listening") {
		t.Errorf("listener log holds card digits or nothing:\n%s", out)
	}
}

// syncBuffer is a log sink safe for the listener's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestListenPathChecks(t *testing.T) {
	t.Run("stale socket is replaced", func(t *testing.T) {
		path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		l, err := Listen(path, testLog(t))
		if err != nil {
			t.Fatalf("Listen over a stale socket: %v", err)
		}
		l.Close()
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left after Close: %v", err)
		}
	})
	t.Run("live socket is not stolen", func(t *testing.T) {
		path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
		l, err := Listen(path, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		acc := accept(l)
		_, err = Listen(path, testLog(t))
		if err == nil || !strings.Contains(err.Error(), "already serving") {
			t.Errorf("second Listen = %v", err)
		}
		if c := within(t, acc, "probe accept"); c != nil {
			c.Close()
		}
	})
	t.Run("regular file", func(t *testing.T) {
		path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
		os.WriteFile(path, nil, 0o600)
		if _, err := Listen(path, testLog(t)); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Listen over a file = %v", err)
		}
	})
	t.Run("world-writable directory", func(t *testing.T) {
		path := filepath.Join(sockDir(t, 0o777), "ipc.sock")
		if _, err := Listen(path, testLog(t)); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Errorf("Listen in a 0777 dir = %v", err)
		}
	})
	t.Run("creates the directory", func(t *testing.T) {
		path := filepath.Join(sockDir(t, 0o755), "run", "pcipause", "ipc.sock")
		l, err := Listen(path, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	})
}

func TestLoggedInUsers(t *testing.T) {
	a := LoggedInUsers()
	if err := a(Peer{UID: 0, User: "root"}); err != nil {
		t.Errorf("root refused: %v", err)
	}
	if err := a(Peer{UID: 54321, User: "no-such-user-here"}); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("unknown uid = %v", err)
	}
}

func TestUtmp(t *testing.T) {
	rec := func(typ int16, user string) []byte {
		r := make([]byte, 384)
		binary.LittleEndian.PutUint16(r, uint16(typ))
		copy(r[44:76], user)
		return r
	}
	f := filepath.Join(t.TempDir(), "utmp")
	data := append(append(rec(7, "alice"), rec(8, "bob")...), rec(7, "carol")[:100]...)
	os.WriteFile(f, data, 0o644)
	tests := []struct {
		user string
		want bool
	}{{"alice", true}, {"bob", false}, {"carol", false}, {"ali", false}}
	for _, tt := range tests {
		if got := utmpHasUser(f, tt.user); got != tt.want {
			t.Errorf("utmpHasUser(%q) = %v", tt.user, got)
		}
	}
}
