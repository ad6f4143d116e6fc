//go:build windows

package config

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// programData resolves %ProgramData% through the known-folder API, not the environment, which
// a user can change for their own processes.
func programData() string {
	p, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, windows.KF_FLAG_DEFAULT)
	if err != nil || p == "" {
		return `C:\ProgramData`
	}
	return p
}

func defaultConfigPath() string {
	return filepath.Join(programData(), "pcipause", "pcipause.toml")
}

// DefaultPaths are the Windows locations of the service's files, all under
// %ProgramData%\pcipause. Socket is the named pipe the helpers connect to.
func DefaultPaths() Paths {
	base := filepath.Join(programData(), "pcipause")
	return Paths{
		StateDir:   filepath.Join(base, "state"),
		LogDir:     filepath.Join(base, "logs"),
		Socket:     `\\.\pipe\pcipause`,
		Credential: filepath.Join(base, "credential.dpapi"),
	}
}
