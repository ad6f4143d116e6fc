//go:build linux

package credential

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "credential")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Present() {
		t.Fatal("Present before Set")
	}
	if _, err := st.Get(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "pcipause credential set") {
		t.Fatalf("Get before Set = %v", err)
	}
	for _, sec := range []Secrets{{ClientSecret: testSecret}, {ClientSecret: "new", AccessKeySecret: testSecret}} {
		if err := Save(st, sec); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("after Set: %v mode %v", err, fi.Mode())
		}
		got, err := Load(st)
		if err != nil || got != sec {
			t.Fatalf("Load = %v, %v", got, err)
		}
		if r, err := Read(path); err != nil || r != sec {
			t.Fatalf("Read = %v, %v", r, err)
		}
	}
	if !st.Present() {
		t.Error("not Present after Set")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".credential-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestFileRefusesUnsafe(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
		msg   string
	}{
		{"group readable", chmod(0o640), ErrPermissions, "chmod 600"},
		{"world readable", chmod(0o604), ErrPermissions, "mode 0604"},
		{"group writable", chmod(0o620), ErrPermissions, "group or others"},
		{"symlink", func(t *testing.T, path string) {
			real := path + ".real"
			os.Rename(path, real)
			if err := os.Symlink(real, path); err != nil {
				t.Fatal(err)
			}
		}, ErrPermissions, "symbolic link"},
		{"directory", func(t *testing.T, path string) {
			os.Remove(path)
			os.Mkdir(path, 0o700)
		}, ErrPermissions, "not a regular file"},
		{"fifo", func(t *testing.T, path string) {
			os.Remove(path)
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, ErrPermissions, "not a regular file"},
		{"other owner", func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, ErrPermissions, "owned by uid 65534"},
		{"empty", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, ErrNotFound, "empty"},
		{"oversize", func(t *testing.T, path string) {
			os.WriteFile(path, make([]byte, MaxSize+1), 0o600)
		}, ErrMalformed, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credential")
			st, _ := Open(path)
			if err := Save(st, Secrets{ClientSecret: testSecret}); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, path)
			b, err := st.Get()
			if err == nil {
				t.Fatalf("Get accepted it: %d bytes", len(b))
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), path) {
				t.Errorf("Get = %v, want %v mentioning %q and the path", err, tt.want, tt.msg)
			}
			if strings.Contains(err.Error(), "s3cr") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func chmod(m os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSetRejects(t *testing.T) {
	st, _ := Open(filepath.Join(t.TempDir(), "credential"))
	for _, b := range [][]byte{nil, make([]byte, MaxSize+1)} {
		if err := st.Set(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Set(%d bytes) = %v", len(b), err)
		}
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") accepted")
	}
}
