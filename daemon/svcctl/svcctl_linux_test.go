package svcctl

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kardianos/service"
)

// Install and uninstall into a temporary root, where no systemd runs: the unit is written,
// enabled through the [Install] section, and removed again without leftovers.
func TestInstallUninstallRoot(t *testing.T) {
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Skip("systemctl not installed (Debian package systemd)")
	}
	ctx := context.Background()
	root := t.TempDir()
	c, err := New(Options{Root: root, Exe: "/usr/bin/pcipause"})
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(root, "etc/systemd/system/pcipause.service")
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/pcipause.service")

	steps := []struct {
		name      string
		do        func() error
		wantErr   error // nil: must succeed
		anyErr    bool
		wantState State
		unit      bool
	}{
		{"fresh", func() error { return nil }, nil, false, StateNotInstalled, false},
		{"install", func() error { return c.Install(ctx) }, nil, false, StateStopped, true},
		{"install twice", func() error { return c.Install(ctx) }, nil, true, StateStopped, true},
		{"start offline", func() error { return c.Start(ctx) }, ErrOffline, true, StateStopped, true},
		{"stop offline", func() error { return c.Stop(ctx) }, ErrOffline, true, StateStopped, true},
		{"restart offline", func() error { return c.Restart(ctx) }, ErrOffline, true, StateStopped, true},
		{"uninstall", func() error { return c.Uninstall(ctx) }, nil, false, StateNotInstalled, false},
		{"uninstall twice", func() error { return c.Uninstall(ctx) }, service.ErrNotInstalled, true, StateNotInstalled, false},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case !s.anyErr && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.anyErr && err == nil:
			t.Fatalf("%s: no error", s.name)
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Fatalf("%s: error %v, want %v", s.name, err, s.wantErr)
		}
		st, err := c.State(ctx)
		if err != nil || st != s.wantState {
			t.Fatalf("%s: state %v, %v; want %v", s.name, st, err, s.wantState)
		}
		_, uerr := os.Stat(unit)
		_, werr := os.Lstat(wants)
		if got := uerr == nil && werr == nil; got != s.unit {
			t.Fatalf("%s: unit present=%v (unit err %v, wants-link err %v), want %v", s.name, got, uerr, werr, s.unit)
		}
		if s.unit {
			b, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			if want := SystemdUnit("/usr/bin/pcipause", Arguments("")); string(b) != want {
				t.Fatalf("%s: installed unit differs from SystemdUnit:\n%s", s.name, b)
			}
			if dst, err := os.Readlink(wants); err != nil || dst != "/etc/systemd/system/pcipause.service" {
				t.Fatalf("%s: enable link -> %q, %v", s.name, dst, err)
			}
		}
	}
	// Nothing but empty directories is left in the root.
	err = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			t.Errorf("left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kardianos renders our template itself on a host where systemd runs; its output must be what
// SystemdUnit renders and the package ships. A user-service install into a temporary HOME lets
// it render here: the unit is written before systemctl is asked (which may fail without a bus).
func TestKardianosRendersSameUnit(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_RUNTIME_DIR", home)
	t.Setenv("PATH", t.TempDir()) // no systemctl: kardianos must not touch the real one
	prev := service.AvailableSystems()
	service.ChooseSystem(systemdSystem())
	t.Cleanup(func() { service.ChooseSystem(prev...) })

	cfg := kardianosConfig("/opt/pci pause/pcipause", Arguments("/etc/x.toml"))
	cfg.Option["UserService"] = true
	s, err := service.New(noProgram{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Install() // systemctl is absent: only the unit file matters
	got, err := os.ReadFile(filepath.Join(home, ".config/systemd/user/pcipause.service"))
	if err != nil {
		t.Fatalf("kardianos wrote no unit: %v", err)
	}
	if want := SystemdUnit("/opt/pci pause/pcipause", Arguments("/etc/x.toml")); string(got) != want {
		t.Errorf("kardianos rendered\n%s\nSystemdUnit renders\n%s", got, want)
	}
}

func TestNewRejectsRelativeExe(t *testing.T) {
	for _, exe := range []string{"pcipause", "./bin/pcipause"} {
		if _, err := New(Options{Root: t.TempDir(), Exe: exe}); err == nil {
			t.Errorf("New(Exe=%q) accepted a relative path", exe)
		}
	}
}
