package installer

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"pcipause/daemon/svcctl"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The MSI registers the service the way svcctl (and so `pcipause install`) does: same name and
// run argument, automatic start as LocalSystem.
func TestWXSMatchesServiceDefinition(t *testing.T) {
	wxs := readFile(t, "windows/pcipause.wxs")
	si := regexp.MustCompile(`(?s)<ServiceInstall\b.*?/>`).FindString(wxs)
	sc := regexp.MustCompile(`(?s)<ServiceControl\b.*?/>`).FindString(wxs)
	for _, tc := range []struct{ elem, what, want string }{
		{si, "ServiceInstall", `Name="` + svcctl.Name + `"`},
		{si, "ServiceInstall", `Arguments="` + strings.Join(svcctl.Arguments(""), " ") + `"`},
		{si, "ServiceInstall", `Start="auto"`},
		{si, "ServiceInstall", `Account="LocalSystem"`},
		{si, "ServiceInstall", `Type="ownProcess"`},
		{si, "ServiceInstall", `DisplayName="` + svcctl.DisplayName + `"`},
		{sc, "ServiceControl", `Name="` + svcctl.Name + `"`},
		{sc, "ServiceControl", `Start="install"`},
		{sc, "ServiceControl", `Stop="both"`},
		{sc, "ServiceControl", `Remove="uninstall"`},
	} {
		if !strings.Contains(tc.elem, tc.want) {
			t.Errorf("%s lacks %s:\n%s", tc.what, tc.want, tc.elem)
		}
	}
}

// The autostart entry and the user unit start the installed helper; the entry is one a desktop
// accepts (a [Desktop Entry] group with Type, Name and Exec).
func TestSessionAutostartFiles(t *testing.T) {
	desktop := readFile(t, "linux/pcipause-session.desktop")
	unit := readFile(t, "linux/pcipause-session.service")
	lines := strings.Split(strings.TrimSpace(desktop), "\n")
	if lines[0] != "[Desktop Entry]" {
		t.Errorf("desktop entry starts with %q", lines[0])
	}
	keys := map[string]string{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("desktop entry line %q is not key=value", l)
			continue
		}
		if _, dup := keys[k]; dup {
			t.Errorf("desktop entry repeats key %s", k)
		}
		keys[k] = v
	}
	for _, tc := range []struct{ file, got, want string }{
		{"desktop", keys["Type"], "Application"},
		{"desktop", keys["Exec"], "/usr/bin/pcipause-session"},
		{"desktop", keys["TryExec"], "/usr/bin/pcipause-session"}, // inert once the package is removed
		{"desktop", keys["NoDisplay"], "true"},
		{"desktop", keys["Terminal"], "false"},
		// systemd sessions start the user unit instead; the generator must not add a second.
		{"desktop", keys["X-systemd-skip"], "true"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.file, tc.got, tc.want)
		}
	}
	for _, want := range []string{"ExecStart=/usr/bin/pcipause-session", "WantedBy=graphical-session.target", "PartOf=graphical-session.target"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("user unit lacks %s", want)
		}
	}
}
