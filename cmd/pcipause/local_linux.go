//go:build linux

package main

import "syscall"

// helperProcAttr kills the helper if this process dies without stopping it.
func helperProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
