//go:build windows

package ipc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// These run the real named pipe: on Windows, or under Wine (make test-windows), which does
// not enforce the pipe's DACL — TestPipeSDDL checks the descriptor itself instead.

var pipeSeq atomic.Int32

func pipeName() string {
	return fmt.Sprintf(`\\.\pipe\pcipause-test-%d-%d`, os.Getpid(), pipeSeq.Add(1))
}

func winLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func acceptOne(l *Listener) <-chan *Conn {
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

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
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

func ownAccount(t *testing.T) (string, string) {
	t.Helper()
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	name, _ := accountOf(me)
	var session uint32
	if err := windows.ProcessIdToSessionId(uint32(os.Getpid()), &session); err != nil {
		t.Fatal(err)
	}
	return name, strconv.FormatUint(uint64(session), 10)
}

func TestPipeRoundTripAndPeer(t *testing.T) {
	path := pipeName()
	l, err := Listen(path, winLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	acc := acceptOne(l)
	cli, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv := waitFor(t, acc, "accept")
	defer srv.Close()

	user, session := ownAccount(t)
	exe, _ := os.Executable()
	sp := srv.Peer()
	if sp.PID != os.Getpid() || sp.Session != session || sp.User != user || !strings.EqualFold(sp.Exe, exe) {
		t.Errorf("service sees %+v, want pid %d session %s user %s exe %s", sp, os.Getpid(), session, user, exe)
	}
	cp := cli.Peer()
	if cp.PID != os.Getpid() || cp.User != user {
		t.Errorf("helper sees %+v, want pid %d user %s", cp, os.Getpid(), user)
	}
	for _, m := range allMessages() {
		from, to := cli, srv
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
	_ = srv.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := srv.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Recv after deadline = %v", err)
	}
	cli.Close()
	_ = srv.SetReadDeadline(time.Time{})
	if _, err := srv.Recv(); !errors.Is(err, io.EOF) && !errors.Is(err, windows.ERROR_BROKEN_PIPE) {
		t.Errorf("Recv after peer close = %v, want EOF", err)
	}
}

func TestManyClients(t *testing.T) {
	path := pipeName()
	l, err := Listen(path, winLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 3 {
		acc := acceptOne(l)
		c, err := Dial(context.Background(), path)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		s := waitFor(t, acc, "accept")
		if err := c.Send(Heartbeat{}); err != nil {
			t.Fatal(err)
		}
		if m, err := s.Recv(); err != nil || m.Type() != TypeHeartbeat {
			t.Fatalf("client %d: %v %v", i, m, err)
		}
		c.Close()
		s.Close()
	}
}

func TestRefusedPeer(t *testing.T) {
	path := pipeName()
	l, err := Listen(path, winLog(t), WithAuthorizer(AllowUIDs(4242)))
	if err != nil {
		t.Fatal(err)
	}
	acc := acceptOne(l)
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if e, ok := m.(Error); !ok || !strings.Contains(e.Msg, "not authorized") {
		t.Errorf("refusal message %#v", m)
	}
	if _, err := c.Recv(); err == nil {
		t.Error("the refused connection stayed open")
	}
	l.Close()
	if c, ok := <-acc; ok {
		c.Close()
		t.Error("Accept returned a refused connection")
	}
}

// TestSquatterRefused: while one listener holds the name, a second cannot take it over.
func TestSquatterRefused(t *testing.T) {
	path := pipeName()
	l, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l2, err := Listen(path, nil); err == nil {
		l2.Close()
		t.Fatal("a second Listen on a held pipe name succeeded")
	}
}

func TestDialWithoutService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := Dial(ctx, pipeName()); err == nil {
		c.Close()
		t.Fatal("Dial to a pipe nobody serves succeeded")
	}
}

func TestGarbageFramesOnPipe(t *testing.T) {
	path := pipeName()
	l, err := Listen(path, winLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	frame := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	tests := []struct {
		name  string
		write []byte
		fatal bool
		kind  error
	}{
		{"not json", frame([]byte("GET / HTTP/1.1\r\n")), false, ErrMalformed},
		{"card digits", frame([]byte(`{"v":1,"type":"pci_open","episode":1,"kind":"pan","field":"4111 1111 1111 1111"}`)), false, ErrMalformed},
		{"oversize prefix", binary.BigEndian.AppendUint32(nil, 1<<30), true, ErrOversize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := acceptOne(l)
			raw, err := winio.DialPipeAccess(context.Background(), path, clientAccess)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			srv := waitFor(t, acc, "accept")
			defer srv.Close()
			if _, err := raw.Write(tt.write); err != nil {
				t.Fatal(err)
			}
			_, err = srv.Recv()
			var pe *ProtoError
			if !errors.As(err, &pe) || !errors.Is(err, tt.kind) || pe.Fatal != tt.fatal {
				t.Fatalf("Recv = %v, want %v fatal=%v", err, tt.kind, tt.fatal)
			}
			if strings.Contains(err.Error(), "4111") {
				t.Errorf("error repeats card digits: %v", err)
			}
		})
	}
}

// TestPipeSDDL checks the descriptor the pipe is created with, since Wine does not enforce it:
// protected, SYSTEM full control, interactive users and Administrators read/write without
// FILE_CREATE_PIPE_INSTANCE, nobody else.
func TestPipeSDDL(t *testing.T) {
	for _, sddl := range []string{pipeSDDL, ownerSDDL + pipeSDDL} {
		sd, err := windows.SecurityDescriptorFromString(sddl)
		if err != nil {
			t.Fatalf("%s: %v", sddl, err)
		}
		ctl, _, err := sd.Control()
		if err != nil || ctl&windows.SE_DACL_PROTECTED == 0 {
			t.Fatalf("%s: DACL not protected (%v)", sddl, err)
		}
		dacl, _, err := sd.DACL()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[windows.WELL_KNOWN_SID_TYPE]bool{}
		for i := range uint32(dacl.AceCount) {
			var ace *windows.ACCESS_ALLOWED_ACE
			if err := windows.GetAce(dacl, i, &ace); err != nil {
				t.Fatal(err)
			}
			sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			switch {
			case sid.IsWellKnown(windows.WinLocalSystemSid):
				seen[windows.WinLocalSystemSid] = true
			case sid.IsWellKnown(windows.WinInteractiveSid), sid.IsWellKnown(windows.WinBuiltinAdministratorsSid):
				if sid.IsWellKnown(windows.WinInteractiveSid) {
					seen[windows.WinInteractiveSid] = true
				}
				if ace.Mask&windows.FILE_APPEND_DATA != 0 || ace.Mask&windows.GENERIC_WRITE != 0 || ace.Mask&windows.GENERIC_ALL != 0 {
					t.Errorf("%s: %s may create pipe instances (mask %#x)", sddl, sid, ace.Mask)
				}
				if ace.Mask&clientAccess != clientAccess {
					t.Errorf("%s: %s lacks client access (mask %#x)", sddl, sid, ace.Mask)
				}
			default:
				t.Errorf("%s: unexpected ACE for %s", sddl, sid)
			}
		}
		if !seen[windows.WinLocalSystemSid] || !seen[windows.WinInteractiveSid] {
			t.Errorf("%s: SYSTEM or interactive users missing", sddl)
		}
	}
}

func TestLoggedInUsersWindows(t *testing.T) {
	tests := []struct {
		p  Peer
		ok bool
	}{
		{Peer{UID: 0, User: "SYSTEM", Session: "0"}, true},
		{Peer{UID: -1, User: "alice", Session: "1"}, true},
		{Peer{UID: -1, User: "bob", Session: "3"}, true},
		{Peer{UID: -1, User: "svc", Session: "0"}, false},
		{Peer{UID: -1, User: "x", Session: ""}, false},
		{Peer{UID: -1, User: "x", Session: "garbage"}, false},
	}
	for _, tt := range tests {
		err := LoggedInUsers()(tt.p)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("LoggedInUsers(%+v) = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
}

func TestTrustedServerWindows(t *testing.T) {
	user, _ := ownAccount(t)
	tests := []struct {
		p  Peer
		ok bool
	}{
		{Peer{UID: 0, User: "SYSTEM"}, true},
		{Peer{UID: -1, User: user}, true},
		{Peer{UID: -1, User: "mallory-" + user}, false},
	}
	for _, tt := range tests {
		if err := trustedServer(tt.p); (err == nil) != tt.ok {
			t.Errorf("trustedServer(%+v) = %v, want ok=%v", tt.p, err, tt.ok)
		}
	}
}
