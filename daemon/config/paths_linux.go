//go:build linux

package config

func defaultConfigPath() string { return "/etc/pcipause/pcipause.toml" }

// DefaultPaths are the Linux locations of the service's files.
func DefaultPaths() Paths {
	return Paths{
		StateDir:   "/var/lib/pcipause",
		LogDir:     "/var/log/pcipause",
		Socket:     "/run/pcipause/ipc.sock",
		Credential: "/etc/pcipause/credential",
	}
}
