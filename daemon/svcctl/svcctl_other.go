//go:build !linux && !windows

package svcctl

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
)

func unsupported() error {
	return fmt.Errorf("service control is not supported on %s", runtime.GOOS)
}

func (c *Controller) init() error                                          { return unsupported() }
func (c *Controller) exe() string                                          { return c.opts.Exe }
func (c *Controller) install(context.Context) error                        { return unsupported() }
func (c *Controller) uninstall(context.Context) error                      { return unsupported() }
func (c *Controller) control(context.Context, string) error                { return unsupported() }
func (c *Controller) applyRecovery(context.Context) error                  { return unsupported() }
func (c *Controller) state(context.Context) (State, error)                 { return StateUnknown, unsupported() }
func run(context.Context, *slog.Logger, func(context.Context) error) error { return unsupported() }
