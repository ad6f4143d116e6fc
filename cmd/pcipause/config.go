package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"pcipause/daemon/config"
)

func init() {
	register(&command{name: "config check",
		short: "validate the config file and print the effective config, secrets redacted [--config F]",
		run:   runConfigCheck})
}

// runConfigCheck prints every problem in the file, one per line, and exits 1 when there is
// any; otherwise it prints the effective config (defaults filled in) as TOML.
func runConfigCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath(), "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config check: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid\n", *path)
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, e := range joined.Unwrap() {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return &exitError{code: 1, err: errors.New("")}
	}
	fmt.Fprintf(stdout, "# %s: valid. Effective configuration, defaults filled in, secrets redacted:\n", *path)
	return cfg.Redacted().Write(stdout)
}
