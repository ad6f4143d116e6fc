package main

import (
	"context"
	"fmt"
	"io"

	"pcipause/daemon/buildinfo"
)

func init() {
	register(&command{name: "version", short: "print version, commit and build date",
		run: func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, buildinfo.String())
			return nil
		}})
}
