package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"pcipause/daemon/config"
	"pcipause/daemon/credential"
)

func init() {
	register(&command{name: "credential set",
		short: "store the CXone secret(s) read from stdin or --from-file, never from the command line",
		run:   runCredentialSet})
	register(&command{name: "credential check",
		short: "check that the stored credential is readable, safe and complete for the backend",
		run:   runCredentialCheck})
}

// credentialFlags are shared by set and check.
func credentialFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", config.DefaultPath(), "config file (names the backend and paths.credential)")
	path := fs.String("credential", "", "credential file (default: paths.credential from the config)")
	return fs, cfg, path
}

// credentialConfig reads what the credential commands need from the config: the backend and
// the store path. The file may be unfinished (installers store the secret before the rest is
// set), so only its syntax and types are checked; a missing file means the defaults.
func credentialConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.LoadUnvalidated(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "note: %s does not exist; using the default backend and paths\n", path)
		return config.Default(), nil
	}
	return cfg, err
}

func runCredentialSet(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath, credPath := credentialFlags("credential set", stderr)
	from := fs.String("from-file", "", "read the secret from this file instead of stdin")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: pcipause credential set [--config F] [--credential F] [--from-file F] < secret

Input: the client secret on the first line; for backend cxone-mask the access key secret on
the second. Or a JSON document {"client_secret": "...", "access_key_secret": "..."}.
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("credential set: secrets are never taken from the command line: pipe them to stdin or use --from-file")
	}
	cfg, err := credentialConfig(*cfgPath, stderr)
	if err != nil {
		return fmt.Errorf("credential set: %w", err)
	}
	var in []byte
	if *from != "" {
		in, err = os.ReadFile(*from)
	} else {
		in, err = io.ReadAll(io.LimitReader(os.Stdin, credential.MaxSize+1))
	}
	if err != nil {
		return fmt.Errorf("credential set: read secret: %w", err)
	}
	defer credential.Wipe(in)
	sec, err := parseSecretInput(in, cfg.CXone.Backend)
	if err != nil {
		return fmt.Errorf("credential set: %w", err)
	}
	path := *credPath
	if path == "" {
		path = cfg.Paths.Credential
	}
	st, err := credential.Open(path)
	if err != nil {
		return fmt.Errorf("credential set: %w", err)
	}
	if err := credential.Save(st, sec); err != nil {
		return fmt.Errorf("credential set: %w", err)
	}
	what := "client secret"
	if sec.AccessKeySecret != "" {
		what += " and access key secret"
	}
	fmt.Fprintf(stdout, "credential set: stored the %s in %s\n", what, path)
	return nil
}

// parseSecretInput accepts a JSON document or lines (client secret, then access key secret).
// Errors describe the shape of the input, never its content.
func parseSecretInput(in []byte, backend string) (credential.Secrets, error) {
	t := bytes.TrimSpace(in)
	if len(t) > credential.MaxSize {
		return credential.Secrets{}, fmt.Errorf("input larger than %d bytes", credential.MaxSize)
	}
	var sec credential.Secrets
	if bytes.HasPrefix(t, []byte("{")) {
		s, err := credential.Decode(t)
		if err != nil {
			return s, err
		}
		sec = s
	} else {
		var lines []string
		for _, l := range strings.Split(string(t), "\n") {
			if l = strings.TrimRight(l, "\r"); l != "" {
				lines = append(lines, l)
			}
		}
		switch len(lines) {
		case 0:
			return sec, errors.New("no secret on the input")
		case 1, 2:
		default:
			return sec, fmt.Errorf("%d lines on the input: want the client secret, then (cxone-mask) the access key secret", len(lines))
		}
		sec.ClientSecret = lines[0]
		if len(lines) == 2 {
			sec.AccessKeySecret = lines[1]
		}
	}
	switch {
	case backend == config.BackendMask && sec.AccessKeySecret == "":
		return sec, errors.New("backend cxone-mask needs two secrets: the client secret on the first line, the access key secret on the second")
	case backend != config.BackendMask && sec.AccessKeySecret != "":
		return sec, fmt.Errorf("backend %s uses only the client secret, but an access key secret was given too", backend)
	}
	return sec, nil
}

func runCredentialCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath, credPath := credentialFlags("credential check", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("credential check: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := credentialConfig(*cfgPath, stderr)
	if err != nil {
		return fmt.Errorf("credential check: %w", err)
	}
	if f := cfg.CXone.ClientSecretFile; f != "" && *credPath == "" {
		// Development setting: the service reads this file instead of the store.
		b, err := os.ReadFile(f)
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("credential check: cxone.client_secret_file: %w", err)}
		}
		empty := len(bytes.TrimSpace(b)) == 0
		credential.Wipe(b)
		if empty {
			return &exitError{code: 1, err: errors.New("credential check: cxone.client_secret_file is empty")}
		}
		fmt.Fprintln(stdout, "credential check: OK: the client secret comes from cxone.client_secret_file (development only; use `pcipause credential set` in production)")
		return nil
	}
	path := *credPath
	if path == "" {
		path = cfg.Paths.Credential
	}
	st, err := credential.Open(path)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("credential check: %w", err)}
	}
	sec, err := credential.Load(st)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("credential check: %w", err)}
	}
	if cfg.CXone.Backend == config.BackendMask && sec.AccessKeySecret == "" {
		return &exitError{code: 1, err: fmt.Errorf("credential check: %s holds no access key secret, which backend cxone-mask needs: run `pcipause credential set` with both secrets", path)}
	}
	what := "client secret"
	if sec.AccessKeySecret != "" {
		what += " and access key secret"
	}
	fmt.Fprintf(stdout, "credential check: OK: %s holds the %s for backend %s, readable only by its owner\n", path, what, cfg.CXone.Backend)
	return nil
}
