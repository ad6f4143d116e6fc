//go:build !linux

package main

import "syscall"

func helperProcAttr() *syscall.SysProcAttr { return nil }
