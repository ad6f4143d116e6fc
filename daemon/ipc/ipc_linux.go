//go:build linux

package ipc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listen creates the unix socket. The directory is created root-only-writable (0755) and
// refused if someone else could replace the socket in it; a stale socket left by a crash is
// removed, a live one is an error. The socket itself is 0666 so that user helpers can
// connect: who may talk is decided per connection from SO_PEERCRED, not by file mode.
func listen(path string) (net.Listener, func() error, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	if err := checkDir(dir); err != nil {
		return nil, nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, nil, errors.New("another process is already serving this socket")
		}
		if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, nil, nil
}

// checkDir refuses a socket directory another user could write to (and so swap the socket).
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok {
		return fmt.Errorf("%s is not a directory", dir)
	}
	euid := uint32(os.Geteuid())
	if st.Uid != euid && st.Uid != 0 {
		return fmt.Errorf("directory %s is owned by uid %d, not by this process's user or root", dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %04o): another user could replace the socket", dir, fi.Mode().Perm())
	}
	return nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// peerOf reads SO_PEERCRED: the uid, gid and pid of the process that made (or accepted) the
// connection, as the kernel recorded them at connect time.
func peerOf(nc net.Conn) (Peer, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("not a unix socket: %T", nc)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	p := Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid)}
	p.User = strconv.Itoa(p.UID)
	if u, err := user.LookupId(p.User); err == nil {
		p.User = u.Username
	}
	// Readable for any pid when we are root (the service); a user helper reading the root
	// service's link gets EACCES and leaves Exe empty.
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/exe"); err == nil {
		p.Exe = exe
	}
	return p, nil
}

// trustedServer accepts a service running as root or as the helper's own user (development).
func trustedServer(p Peer) error {
	if p.UID == 0 || p.UID == os.Geteuid() {
		return nil
	}
	return fmt.Errorf("the socket is served by uid %d, neither root nor this user: refusing to talk to it", p.UID)
}

// LoggedInUsers authorizes root and any user with a login session: logind's
// /run/systemd/users/<uid>, or a USER_PROCESS entry in utmp for the user's name.
func LoggedInUsers() Authorizer {
	return func(p Peer) error {
		if p.UID == 0 {
			return nil
		}
		if _, err := os.Stat("/run/systemd/users/" + strconv.Itoa(p.UID)); err == nil {
			return nil
		}
		if p.User != "" && utmpHasUser("/run/utmp", p.User) {
			return nil
		}
		return fmt.Errorf("%w: uid %d has no login session", ErrNotAuthorized, p.UID)
	}
}

// utmpHasUser scans glibc's x86-64/arm64 utmp records (384 bytes: ut_type int16 at 0,
// ut_user [32]byte at 44) for a live login of name.
func utmpHasUser(path, name string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	const recSize, userOff, userLen, userProcess = 384, 44, 32, 7
	for off := 0; off+recSize <= len(b); off += recSize {
		r := b[off : off+recSize]
		if int16(binary.LittleEndian.Uint16(r[0:2])) != userProcess {
			continue
		}
		u := r[userOff : userOff+userLen]
		if i := bytes.IndexByte(u, 0); i >= 0 {
			u = u[:i]
		}
		if string(u) == name {
			return true
		}
	}
	return false
}
