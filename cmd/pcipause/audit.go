package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"pcipause/daemon/audit"
	"pcipause/daemon/config"
	"pcipause/daemon/store"
)

func init() {
	register(&command{name: "audit export", short: "write the audit trail as JSON lines [--since T] [--out FILE] [--db PATH]", run: runAuditExport})
	register(&command{name: "audit verify", short: "recompute the audit hash chain [--db PATH | --in FILE]; non-zero exit names the first bad record", run: runAuditVerify})
}

func defaultStatePath() string {
	return filepath.Join(config.DefaultPaths().StateDir, store.FileName)
}

// parseSince accepts an RFC 3339 time, a date (2006-01-02) or a duration back from now (24h).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, a date (2006-01-02) or a duration such as 24h", s)
}

func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", defaultStatePath(), "state file to read (a copy is read while the service runs)")
	since := fs.String("since", "", "only records at or after this time (RFC 3339, date, or duration back from now)")
	out := fs.String("out", "", "write to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit export: unexpected argument %q", fs.Arg(0))
	}
	t, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	st, err := store.OpenReadOnly(*db, time.Second, nil)
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	defer st.Close()
	w := stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("audit export: %w", cerr)
			}
		}()
		w = f
	}
	n, err := st.Export(t, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d audit records\n", n)
	return nil
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", defaultStatePath(), "state file to verify (a copy is read while the service runs)")
	in := fs.String("in", "", "verify an exported JSON-lines file instead of a state file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit verify: unexpected argument %q", fs.Arg(0))
	}
	var n int
	var err error
	src := *db
	if *in != "" {
		src = *in
		f, ferr := os.Open(*in)
		if ferr != nil {
			return fmt.Errorf("audit verify: %w", ferr)
		}
		defer f.Close()
		n, err = audit.VerifyLines(f)
	} else {
		st, oerr := store.OpenReadOnly(*db, time.Second, nil)
		if oerr != nil {
			return fmt.Errorf("audit verify: %w", oerr)
		}
		defer st.Close()
		n, err = st.Verify()
	}
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &exitError{code: 3, err: fmt.Errorf("audit verify %s: FAILED after %d good records: %w", src, n, err)}
	}
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	fmt.Fprintf(stdout, "audit chain OK: %d records verified in %s\n", n, src)
	return nil
}
