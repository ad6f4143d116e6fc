//go:build linux

package credential

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// File is the Linux store: one file, owned by the service's user (root) with mode 0600.
type File struct {
	path string
}

var _ Store = (*File)(nil)

// Open returns the file store at path (default /etc/pcipause/credential). Nothing is read
// until Get.
func Open(path string) (Store, error) {
	if path == "" {
		return nil, errors.New("credential: no path")
	}
	return &File{path: path}, nil
}

// Path is the file's location.
func (f *File) Path() string { return f.path }

// Present reports whether the file exists and is not empty.
func (f *File) Present() bool {
	fi, err := os.Lstat(f.path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// Get reads the file, refusing one that is not a regular file owned by this process's user,
// or that the group or others could read or write: a secret anyone could have read is
// compromised and must be rotated, not used.
func (f *File) Get() ([]byte, error) {
	fd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("credential: %s: %w (store one with `pcipause credential set`)", f.path, ErrNotFound)
		}
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("credential: %s: %w: is a symbolic link", f.path, ErrPermissions)
		}
		return nil, fmt.Errorf("credential: open %s: %w", f.path, err)
	}
	file := os.NewFile(uintptr(fd), f.path)
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("credential: %w", err)
	}
	if err := checkMode(f.path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(file, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("credential: read %s: %w", f.path, err)
	}
	if len(b) > MaxSize {
		Wipe(b)
		return nil, fmt.Errorf("credential: %s: %w: larger than %d bytes", f.path, ErrMalformed, MaxSize)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("credential: %s: %w: the file is empty", f.path, ErrNotFound)
	}
	return b, nil
}

func checkMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("credential: %s: %w: not a regular file", path, ErrPermissions)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("credential: %s: %w: cannot read the owner", path, ErrPermissions)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("credential: %s: %w: owned by uid %d, not by uid %d (run: chown %d %s)", path, ErrPermissions, st.Uid, os.Geteuid(), os.Geteuid(), path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("credential: %s: %w: mode %04o lets group or others access it; rotate the secret, then run: chmod 600 %s", path, ErrPermissions, perm, path)
	}
	return nil
}

// Set writes the secret to a new 0600 file beside the old one and renames it into place, so
// a crash leaves the old secret or the new one, never a torn file or a readable window.
func (f *File) Set(secret []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("credential: %w: empty secret", ErrMalformed)
	}
	if len(secret) > MaxSize {
		return fmt.Errorf("credential: %w: %d bytes, limit %d", ErrMalformed, len(secret), MaxSize)
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".credential-*")
	if err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	// CreateTemp makes the file 0600 already; chmod again so an odd umask cannot widen it.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	if _, err := tmp.Write(secret); err != nil {
		return fmt.Errorf("credential: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("credential: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	if err := os.Rename(name, f.path); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
