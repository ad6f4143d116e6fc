package sessionbus

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"
)

func TestAddress(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if a, err := address(env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"})); err != nil || a != "unix:path=/x" {
		t.Errorf("from the environment: %q, %v", a, err)
	}
	dir := t.TempDir()
	if _, err := address(env(map[string]string{"XDG_RUNTIME_DIR": dir})); !errors.Is(err, ErrNone) {
		t.Errorf("no bus socket: err %v, want ErrNone", err)
	}
	if _, err := address(env(nil)); !errors.Is(err, ErrNone) {
		t.Errorf("empty environment: err %v, want ErrNone", err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a, err := address(env(map[string]string{"XDG_RUNTIME_DIR": dir})); err != nil || a != "unix:path="+filepath.Join(dir, "bus") {
		t.Errorf("user bus socket: %q, %v", a, err)
	}
}
