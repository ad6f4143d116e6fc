//go:build windows

package config

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestDefaultPathsWindows: every default lives under the ProgramData known folder, and the
// ProgramData environment variable (which a user controls for their own processes) is ignored.
func TestDefaultPathsWindows(t *testing.T) {
	known, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil {
		t.Fatalf("KnownFolderPath: %v", err)
	}
	t.Setenv("ProgramData", `X:\not-the-known-folder`)
	t.Setenv("ALLUSERSPROFILE", `X:\not-the-known-folder`)
	base := known + `\pcipause`
	p := DefaultPaths()
	tests := []struct{ name, got, want string }{
		{"config", DefaultPath(), base + `\pcipause.toml`},
		{"state", p.StateDir, base + `\state`},
		{"logs", p.LogDir, base + `\logs`},
		{"credential", p.Credential, base + `\credential.dpapi`},
		{"pipe", p.Socket, `\\.\pipe\pcipause`},
	}
	for _, tt := range tests {
		if !strings.EqualFold(tt.got, tt.want) {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
		if strings.Contains(tt.got, "not-the-known-folder") {
			t.Errorf("%s = %q comes from the environment", tt.name, tt.got)
		}
	}
	if os.Getenv("ProgramData") == known {
		t.Log("note: environment matched the known folder before the override")
	}
}
