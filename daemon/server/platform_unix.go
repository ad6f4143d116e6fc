//go:build !windows

package server

import "os"

func selfUID() int { return os.Geteuid() }
