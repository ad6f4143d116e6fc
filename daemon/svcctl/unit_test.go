package svcctl

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite installer/linux/pcipause.service from SystemdUnit")

const shippedUnit = "../../installer/linux/pcipause.service"

// The Debian package ships the same unit `pcipause install` writes.
func TestShippedUnitIsRendered(t *testing.T) {
	want := SystemdUnit("/usr/bin/pcipause", Arguments(""))
	if *update {
		if err := os.WriteFile(shippedUnit, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(shippedUnit)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s differs from SystemdUnit (run go test ./daemon/svcctl -run TestShippedUnit -update):\n%s", shippedUnit, got)
	}
}

func TestSystemdUnitDirectives(t *testing.T) {
	unit := SystemdUnit("/opt/pci pause/pcipause", Arguments("/etc/pcipause/other.toml"))
	lines := map[string]bool{}
	for _, l := range strings.Split(unit, "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		`ExecStart=/opt/pci\x20pause/pcipause "service" "--config" "/etc/pcipause/other.toml"`,
		"Restart=always",
		"StartLimitIntervalSec=0",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=read-only",
		"PrivateTmp=yes",
		"ReadWritePaths=/var/lib/pcipause /var/log/pcipause",
		"RuntimeDirectory=pcipause",
		"RuntimeDirectoryMode=0755",
		"StateDirectory=pcipause",
		"StateDirectoryMode=0700",
		"LogsDirectory=pcipause",
		"WantedBy=multi-user.target",
	} {
		if !lines[want] {
			t.Errorf("unit lacks line %q", want)
		}
	}
}

func TestArguments(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   string
	}{
		{"", "service"},
		{"/etc/pcipause/pcipause.toml", "service --config /etc/pcipause/pcipause.toml"},
		{`C:\ProgramData\pcipause\pcipause.toml`, `service --config C:\ProgramData\pcipause\pcipause.toml`},
	} {
		if got := strings.Join(Arguments(tc.config), " "); got != tc.want {
			t.Errorf("Arguments(%q) = %q, want %q", tc.config, got, tc.want)
		}
	}
}

// systemd-analyze verify checks every unit we ship; it reports problems on stderr and often
// still exits 0, so any output is a failure. ExecStart must point at an executable, so the
// units are rewritten to a stand-in binary in a temporary directory.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are verified on linux")
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "pcipause")
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(truePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stand, b, 0o755); err != nil {
		t.Fatal(err)
	}
	session, err := os.ReadFile("../../installer/linux/pcipause-session.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		user bool
		unit string
	}{
		{"pcipause.service", false, SystemdUnit(stand, Arguments(""))},
		{"pcipause-session.service", true, strings.ReplaceAll(string(session), "/usr/bin/pcipause-session", stand)},
		{"broken.service", false, strings.Replace(SystemdUnit(stand, nil), "Restart=always", "Restart=sometimes", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, []byte(tc.unit), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", path}
			if tc.user {
				args = []string{"--user", "verify", path}
			}
			cmd := exec.Command("systemd-analyze", args...)
			rt := filepath.Join(dir, "runtime")
			if err := os.MkdirAll(rt, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
			out, err := cmd.CombinedOutput()
			bad := err != nil || len(strings.TrimSpace(string(out))) > 0
			if wantBad := tc.name == "broken.service"; bad != wantBad {
				t.Errorf("systemd-analyze %s: err=%v, output:\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
