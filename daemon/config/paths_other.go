//go:build !linux && !windows

package config

// On other systems there are no default paths: every path must be set in the file, and
// validation says so, naming the GOOS.
func defaultConfigPath() string { return "" }

// DefaultPaths is empty on unsupported systems.
func DefaultPaths() Paths { return Paths{} }
