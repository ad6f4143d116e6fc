// Package buildinfo holds the version, commit and build date stamped in by the Makefile.
package buildinfo

import "fmt"

// Set with -ldflags -X by the Makefile.
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// String is the one-line form printed by `pcipause version` and sent as User-Agent.
func String() string { return fmt.Sprintf("pcipause %s (commit %s, built %s)", Version, Commit, Date) }

// UserAgent is the HTTP User-Agent of every CXone request.
func UserAgent() string { return "pcipause/" + Version }
