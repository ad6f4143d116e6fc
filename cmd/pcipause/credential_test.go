//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliSecret = "cli-Test-Secret-0xABCDEF"

// withStdin swaps os.Stdin for a pipe holding in, restored by t.Cleanup.
func withStdin(t *testing.T, in string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString(in); w.Close() }()
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
}

func TestCredentialCommands(t *testing.T) {
	dir := t.TempDir()
	wem := filepath.Join(dir, "wem.toml")
	mask := filepath.Join(dir, "mask.toml")
	os.WriteFile(wem, []byte("[cxone]\norg = \"acme\"\n[paths]\ncredential = \""+filepath.Join(dir, "wem.cred")+"\"\n"), 0o644)
	os.WriteFile(mask, []byte("[cxone]\nbackend = \"cxone-mask\"\n[paths]\ncredential = \""+filepath.Join(dir, "mask.cred")+"\"\n"), 0o644)
	secretFile := filepath.Join(dir, "in.txt")
	os.WriteFile(secretFile, []byte(cliSecret+"\n"+cliSecret+"-ak\n"), 0o600)

	tests := []struct {
		name  string
		stdin string
		args  []string
		ok    bool
		want  string // in stdout on success, in the error otherwise
	}{
		{"set wem from stdin", cliSecret + "\n", []string{"credential", "set", "--config", wem}, true, "stored the client secret in " + filepath.Join(dir, "wem.cred")},
		{"check wem", "", []string{"credential", "check", "--config", wem}, true, "OK"},
		{"set mask one line", cliSecret + "\n", []string{"credential", "set", "--config", mask}, false, "needs two secrets"},
		{"check mask before set", "", []string{"credential", "check", "--config", mask}, false, "no credential stored"},
		{"set mask from file", "", []string{"credential", "set", "--config", mask, "--from-file", secretFile}, true, "client secret and access key secret"},
		{"check mask", "", []string{"credential", "check", "--config", mask}, true, "access key secret for backend cxone-mask"},
		{"set mask as json", `{"client_secret":"a","access_key_secret":"b"}`, []string{"credential", "set", "--config", mask}, true, "access key secret"},
		{"wem with two secrets", "", []string{"credential", "set", "--config", wem, "--from-file", secretFile}, false, "uses only the client secret"},
		{"secret on argv refused", "", []string{"credential", "set", "--config", wem, cliSecret}, false, "never taken from the command line"},
		{"empty input", "\n\n", []string{"credential", "set", "--config", wem}, false, "no secret"},
		{"bad json", `{"client_secret":`, []string{"credential", "set", "--config", wem}, false, "malformed credential"},
		{"no config file: defaults + explicit path", cliSecret, []string{"credential", "set", "--config", filepath.Join(dir, "none.toml"), "--credential", filepath.Join(dir, "x.cred")}, true, "stored"},
		{"broken config", cliSecret, []string{"credential", "set", "--config", secretFile}, false, "config: line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withStdin(t, tt.stdin)
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errb)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v\nstdout %s\nstderr %s", err, tt.ok, out.String(), errb.String())
			}
			got := out.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("%q lacks %q", got, tt.want)
			}
			all := out.String() + errb.String()
			if err != nil {
				all += err.Error()
			}
			if strings.Contains(all, "cli-Test") {
				t.Errorf("output repeats the secret: %s", all)
			}
		})
	}

	// An unsafe file is refused with the fix, and check exits non-zero.
	os.Chmod(filepath.Join(dir, "wem.cred"), 0o644)
	err := run(context.Background(), []string{"credential", "check", "--config", wem}, &bytes.Buffer{}, &bytes.Buffer{})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("check of a 0644 file = %v", err)
	}
}
