//go:build windows

package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// The Windows transport is a named pipe (\\.\pipe\pcipause) served through go-winio, whose
// first instance is created with FILE_CREATE semantics: if another process already holds the
// name, Listen fails loudly instead of sharing it.
//
// Who may open the pipe is the DACL's business; who each connection is, is the kernel's: the
// client's process id (GetNamedPipeClientProcessId), its session (GetNamedPipeClientSessionId),
// its image path and its token user. Helpers check the service the other way round: the pipe
// must be owned by LocalSystem (the installed service) or by their own user (a development
// service), which no squatter can fake.

// Access rights. Clients get read/write data and attributes but not FILE_CREATE_PIPE_INSTANCE
// (= FILE_APPEND_DATA, part of GENERIC_WRITE): with it, any user could add server instances of
// the pipe and answer other users' helpers.
const (
	clientAccess = windows.FILE_READ_DATA | windows.FILE_WRITE_DATA | windows.FILE_READ_ATTRIBUTES |
		windows.FILE_WRITE_ATTRIBUTES | windows.SYNCHRONIZE | windows.READ_CONTROL
)

// pipeSDDL is the pipe's security descriptor: a protected DACL with full control for SYSTEM,
// read/write (clientAccess, 0x12019b) for interactive users (console and RDP logons carry
// S-1-5-4) and Administrators. ownerSDDL is prepended when the service runs as LocalSystem, so
// the owner a helper sees is SYSTEM.
const (
	pipeSDDL  = "D:P(A;;GA;;;SY)(A;;0x12019b;;;IU)(A;;0x12019b;;;BA)"
	ownerSDDL = "O:SY"
)

// Peer.UID on Windows: 0 for LocalSystem (the root of Windows, so the neutral "UID 0 is the
// service/admin" checks hold), -1 for everyone else, who are told apart by User and Session.
const (
	uidSystem  = 0
	uidUnknown = -1
)

// serverConn is a connection the service accepted; clientConn one a helper dialled. peerOf
// tells from the type which end it is looking at.
type serverConn struct{ net.Conn }

type clientConn struct{ net.Conn }

type pipeListener struct{ net.Listener }

func (l pipeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return serverConn{c}, nil
}

func listen(path string) (net.Listener, func() error, error) {
	if err := probeFree(path); err != nil {
		return nil, nil, err
	}
	sddl := pipeSDDL
	if isLocalSystem() {
		sddl = ownerSDDL + sddl
	}
	ln, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: sddl, InputBufferSize: 64 << 10, OutputBufferSize: 64 << 10})
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, nil, fmt.Errorf("%w (another process holds the pipe name)", err)
		}
		return nil, nil, err
	}
	if winsys.IsWine() {
		soakFirstInstance(path)
	}
	return pipeListener{ln}, nil, nil
}

// probeFree refuses a pipe name someone already serves, with a clear error. go-winio's
// first-instance FILE_CREATE refuses it too on Windows, but not under Wine.
func probeFree(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := winio.DialPipeAccess(ctx, path, clientAccess)
	switch {
	case err == nil:
		c.Close()
		return errors.New("another process is already serving this pipe")
	case errors.Is(err, windows.ERROR_FILE_NOT_FOUND), errors.Is(err, windows.ERROR_PATH_NOT_FOUND):
		return nil
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return errors.New("another process holds this pipe name and denies us access")
	}
	return fmt.Errorf("another process holds this pipe name: %w", err)
}

// soakFirstInstance works around Wine: go-winio keeps its first pipe instance open, never
// connected, to hold the name, and Wine hands the next client to that instance, where nobody
// reads, instead of to the instance Accept waits on. One throwaway connection fills it. Real
// Windows routes clients to a listening instance and must not get this connection, which the
// service would then Accept.
func soakFirstInstance(path string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := winio.DialPipeAccess(ctx, path, clientAccess); err == nil {
		c.Close()
	}
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeAccess(ctx, path, clientAccess)
	if err != nil {
		return nil, err
	}
	return clientConn{c}, nil
}

func handleOf(c net.Conn) (windows.Handle, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return 0, fmt.Errorf("not a named pipe: %T", c)
	}
	return windows.Handle(f.Fd()), nil
}

func peerOf(nc net.Conn) (Peer, error) {
	switch c := nc.(type) {
	case serverConn:
		return clientPeer(c.Conn)
	case clientConn:
		return servicePeer(c.Conn)
	}
	return Peer{}, fmt.Errorf("not a pipe connection of this package: %T", nc)
}

// clientPeer identifies the helper (or CLI) at the far end of an accepted connection.
func clientPeer(c net.Conn) (Peer, error) {
	h, err := handleOf(c)
	if err != nil {
		return Peer{}, err
	}
	p := Peer{UID: uidUnknown, GID: -1}
	var pid, session uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return Peer{}, fmt.Errorf("client process id: %w", err)
	}
	p.PID = int(pid)
	if err := winsys.GetNamedPipeClientSessionId(h, &session); err != nil {
		if err := windows.ProcessIdToSessionId(pid, &session); err != nil {
			return Peer{}, fmt.Errorf("session of client process %d: %w", pid, err)
		}
	}
	p.Session = strconv.FormatUint(uint64(session), 10)
	proc, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return Peer{}, fmt.Errorf("open client process %d: %w", pid, err)
	}
	defer windows.CloseHandle(proc)
	p.Exe = imagePath(proc)
	var tok windows.Token
	if err := windows.OpenProcessToken(proc, windows.TOKEN_QUERY, &tok); err != nil {
		return Peer{}, fmt.Errorf("token of client process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return Peer{}, fmt.Errorf("user of client process %d: %w", pid, err)
	}
	p.User, p.UID = accountOf(tu.User.Sid)
	return p, nil
}

// servicePeer identifies the service a helper dialled, and refuses a pipe that is owned by
// neither LocalSystem nor the caller's own user.
func servicePeer(c net.Conn) (Peer, error) {
	h, err := handleOf(c)
	if err != nil {
		return Peer{}, err
	}
	p := Peer{UID: uidUnknown, GID: -1}
	var pid, session uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return Peer{}, fmt.Errorf("service process id: %w", err)
	}
	p.PID = int(pid)
	if winsys.GetNamedPipeServerSessionId(h, &session) == nil {
		p.Session = strconv.FormatUint(uint64(session), 10)
	}
	if proc, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid); err == nil {
		p.Exe = imagePath(proc)
		windows.CloseHandle(proc)
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return Peer{}, fmt.Errorf("owner of the pipe: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return Peer{}, fmt.Errorf("owner of the pipe: %v", err)
	}
	if winsys.IsWine() {
		// Wine keeps no security descriptors on pipes (every pipe reports the same placeholder
		// owner); the service process's own token is the best evidence there.
		if o, err := processUser(pid); err == nil {
			owner = o
		}
	}
	p.User, p.UID = accountOf(owner)
	if p.UID == uidSystem {
		return p, nil
	}
	me, err := currentUser()
	if err != nil {
		return Peer{}, err
	}
	if !owner.Equals(me) {
		return Peer{}, fmt.Errorf("the pipe is owned by %s (%s), neither LocalSystem nor this user: refusing to talk to it", p.User, owner)
	}
	return p, nil
}

// trustedServer is the second look at the service: servicePeer already compared the pipe
// owner's SID with LocalSystem and the caller's user.
func trustedServer(p Peer) error {
	if p.UID == uidSystem {
		return nil
	}
	if me, err := currentUser(); err == nil {
		if name, _ := accountOf(me); name == p.User {
			return nil
		}
	}
	return fmt.Errorf("the pipe is served by %s, neither LocalSystem nor this user: refusing to talk to it", p.User)
}

// LoggedInUsers authorizes LocalSystem and any process in an interactive session (session 1
// and up: the console and RDP sessions; session 0 holds only services).
func LoggedInUsers() Authorizer {
	return func(p Peer) error {
		if p.UID == uidSystem {
			return nil
		}
		if s, err := strconv.ParseUint(p.Session, 10, 32); err == nil && s != 0 {
			return nil
		}
		return fmt.Errorf("%w: %s is not in an interactive session (session %q)", ErrNotAuthorized, p.User, p.Session)
	}
}

// accountOf names a SID's account without its domain, as the config's agent mapping expects
// ("alice", like a Linux user name), and maps LocalSystem to uid 0.
func accountOf(sid *windows.SID) (string, int) {
	if sid.IsWellKnown(windows.WinLocalSystemSid) {
		return "SYSTEM", uidSystem
	}
	account, _, _, err := sid.LookupAccount("")
	if err != nil || account == "" {
		return sid.String(), uidUnknown
	}
	return account, uidUnknown
}

// processUser is the token user of process pid.
func processUser(pid uint32) (*windows.SID, error) {
	proc, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(proc)
	var tok windows.Token
	if err := windows.OpenProcessToken(proc, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, err
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid.Copy()
}

func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("own user: %w", err)
	}
	return tu.User.Sid, nil
}

func isLocalSystem() bool {
	me, err := currentUser()
	return err == nil && me.IsWellKnown(windows.WinLocalSystemSid)
}

func imagePath(proc windows.Handle) string {
	var buf [windows.MAX_LONG_PATH]uint16
	n := uint32(len(buf))
	if windows.QueryFullProcessImageName(proc, 0, &buf[0], &n) != nil {
		return ""
	}
	return windows.UTF16ToString(buf[:n])
}
