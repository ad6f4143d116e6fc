package installer

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func needDeb(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s not set: `make test-deb` builds the packages and runs this test", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	return p
}

func cmdOut(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// The package's content and metadata, and lintian's verdict.
func TestDebPackageContent(t *testing.T) {
	deb := needDeb(t, "PCIPAUSE_DEB")
	contents, err := cmdOut(t, "dpkg-deb", "--contents", deb)
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, contents)
	}
	for _, want := range []string{
		"-rwxr-xr-x root/root .* ./usr/bin/pcipause$",
		"-rwxr-xr-x root/root .* ./usr/bin/pcipause-session$",
		"-rw-r--r-- root/root .* ./lib/systemd/system/pcipause.service$",
		"-rw-r--r-- root/root .* ./usr/lib/systemd/user/pcipause-session.service$",
		"-rw-r--r-- root/root .* ./etc/xdg/autostart/pcipause-session.desktop$",
		"-rw-r--r-- root/root .* ./etc/pcipause/pcipause.toml$",
		"./usr/share/doc/pcipause/copyright$",
	} {
		if !matchLine(contents, want) {
			t.Errorf("package lacks %s:\n%s", want, contents)
		}
	}
	dir := t.TempDir()
	if out, err := cmdOut(t, "dpkg-deb", "--control", deb, dir); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}
	cf := readFile(t, filepath.Join(dir, "conffiles"))
	for _, want := range []string{"/etc/pcipause/pcipause.toml", "/etc/xdg/autostart/pcipause-session.desktop"} {
		if !strings.Contains(cf, want+"\n") {
			t.Errorf("conffiles lacks %s:\n%s", want, cf)
		}
	}
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatal("lintian not installed (make deps)")
	}
	out, err := cmdOut(t, "lintian", "--fail-on", "error,warning", deb)
	if err != nil {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}

func matchLine(text, pattern string) bool {
	re := mustRE(pattern)
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// dpkg -i, an upgrade, dpkg -r and dpkg -P on this host. systemd is not PID 1 here, which the
// maintainer scripts must cope with: the units are enabled (links created) but nothing is
// started.
func TestDebInstallUpgradeRemove(t *testing.T) {
	deb := needDeb(t, "PCIPAUSE_DEB")
	next := needDeb(t, "PCIPAUSE_DEB_NEXT")
	if os.Getuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	if out, err := cmdOut(t, "dpkg-query", "-W", "-f=${Status}", "pcipause"); err == nil && strings.Contains(out, "installed") {
		t.Fatalf("pcipause is already installed on this host (%s): not touching it", out)
	}
	marker := "/var/lib/pcipause/test-marker"
	_, statErr := os.Stat("/var/lib/pcipause")
	t.Cleanup(func() {
		_ = os.Remove(marker)
		_ = exec.Command("dpkg", "--purge", "pcipause").Run()
		if errors.Is(statErr, fs.ErrNotExist) {
			_ = os.Remove("/var/lib/pcipause") // only if we made it and it is empty
		}
	})
	const (
		unit      = "/lib/systemd/system/pcipause.service"
		userUnit  = "/usr/lib/systemd/user/pcipause-session.service"
		wants     = "/etc/systemd/system/multi-user.target.wants/pcipause.service"
		userWants = "/etc/systemd/user/graphical-session.target.wants/pcipause-session.service"
		conffile  = "/etc/pcipause/pcipause.toml"
		desktop   = "/etc/xdg/autostart/pcipause-session.desktop"
	)

	t.Run("install", func(t *testing.T) {
		if out, err := cmdOut(t, "dpkg", "-i", deb); err != nil {
			t.Fatalf("dpkg -i: %v\n%s", err, out)
		}
		for _, tc := range []struct {
			path string
			mode fs.FileMode
		}{
			{"/usr/bin/pcipause", 0o755}, {"/usr/bin/pcipause-session", 0o755}, {unit, 0o644}, {userUnit, 0o644},
			{conffile, 0o644}, {desktop, 0o644}, {"/var/lib/pcipause", fs.ModeDir | 0o700}, {"/var/log/pcipause", fs.ModeDir | 0o750},
		} {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if fi.Mode() != tc.mode {
				t.Errorf("%s mode %v, want %v", tc.path, fi.Mode(), tc.mode)
			}
		}
		for link, target := range map[string]string{wants: unit, userWants: userUnit} {
			if got, err := os.Readlink(link); err != nil || got != target {
				t.Errorf("enable link %s -> %q (%v), want %s", link, got, err, target)
			}
		}
		if got := readFile(t, unit); got != readFile(t, "linux/pcipause.service") {
			t.Error("installed unit differs from installer/linux/pcipause.service")
		}
		// The installed unit with the installed binary, as systemd would load it.
		if out, err := cmdOut(t, "systemd-analyze", "verify", unit); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
		if out, err := cmdOut(t, "/usr/bin/pcipause", "version"); err != nil || !strings.HasPrefix(out, "pcipause ") {
			t.Errorf("installed pcipause version: %v\n%s", err, out)
		}
	})

	t.Run("upgrade keeps the edited config and the state", func(t *testing.T) {
		f, err := os.OpenFile(conffile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString("# edited by IT\n")
		f.Close()
		if err := os.WriteFile(marker, []byte("state"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := cmdOut(t, "dpkg", "--force-confold", "-i", next); err != nil {
			t.Fatalf("dpkg -i (upgrade): %v\n%s", err, out)
		}
		v, _ := cmdOut(t, "dpkg-query", "-W", "-f=${Version}", "pcipause")
		nv, _ := cmdOut(t, "dpkg-deb", "-f", next, "Version")
		if strings.TrimSpace(v) != strings.TrimSpace(nv) {
			t.Errorf("installed version %q, want %q", v, nv)
		}
		if !strings.HasSuffix(readFile(t, conffile), "# edited by IT\n") {
			t.Error("upgrade overwrote the edited config")
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("state lost in the upgrade: %v", err)
		}
		if _, err := os.Readlink(wants); err != nil {
			t.Errorf("service no longer enabled after the upgrade: %v", err)
		}
	})

	t.Run("remove", func(t *testing.T) {
		if out, err := cmdOut(t, "dpkg", "-r", "pcipause"); err != nil {
			t.Fatalf("dpkg -r: %v\n%s", err, out)
		}
		for _, p := range []string{"/usr/bin/pcipause", "/usr/bin/pcipause-session", unit, userUnit, wants, userWants} {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left after dpkg -r (%v)", p, err)
			}
		}
		// Conffiles stay until purge (the autostart entry has TryExec, so it is inert).
		for _, p := range []string{conffile, desktop} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("conffile %s removed before purge: %v", p, err)
			}
		}
		if st, _ := cmdOut(t, "dpkg-query", "-W", "-f=${Status}", "pcipause"); st != "deinstall ok config-files" {
			t.Errorf("status after remove %q", st)
		}
	})

	t.Run("purge", func(t *testing.T) {
		if out, err := cmdOut(t, "dpkg", "-P", "pcipause"); err != nil {
			t.Fatalf("dpkg -P: %v\n%s", err, out)
		}
		for _, p := range []string{conffile, desktop, "/etc/pcipause", "/var/log/pcipause"} {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left after purge (%v)", p, err)
			}
		}
		// The audit trail outlives the package; an empty state directory does not.
		if b, err := os.ReadFile(marker); err != nil || !bytes.Equal(b, []byte("state")) {
			t.Errorf("state removed by purge: %v", err)
		}
		_ = os.Remove(marker)
		for _, name := range []string{"pcipause.service", "pcipause.service.dsh-also"} {
			p := filepath.Join("/var/lib/systemd/deb-systemd-helper-enabled", name)
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left after purge", p)
			}
		}
	})
}

func mustRE(p string) *regexp.Regexp { return regexp.MustCompile(p) }
