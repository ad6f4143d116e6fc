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

func TestConfigCheckCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.toml", "[cxone]\norg = \"acme\"\ntoken_url = \"https://t.example/token\"\nclient_id = \"c\"\nclient_secret_file = \"/secret/dev-only-path\"\n")
	invalid := write("invalid.toml", "[cxone]\norg = \"acme\"\nclient_id = \"c\"\n[controller]\nrate = -1.0\nhold_down = \"soon\"\nbogus = 1\n")
	tests := []struct {
		name     string
		args     []string
		code     int // 0: success
		stdout   []string
		stderr   []string
		notInOut string
	}{
		{"example", []string{"--config", "../../installer/pcipause.example.toml"}, 0, []string{"valid", "[cxone]", "hold_down = '500ms'", `name = 'crm-card-number'`}, nil, ""},
		{"redacted", []string{"--config", valid}, 0, []string{"client_secret_file = '<redacted>'"}, nil, "dev-only-path"},
		{"unknown key", []string{"--config", invalid}, 1, nil, []string{"invalid", "line 7: key controller.bogus: unknown key"}, ""},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.toml")}, 1, nil, []string{"no such file"}, ""},
		{"stray argument", []string{"--config", valid, "extra"}, -1, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), append([]string{"config", "check"}, tt.args...), &out, &errb)
			var ee *exitError
			switch {
			case tt.code == 0 && err != nil:
				t.Fatalf("err %v\nstderr: %s", err, errb.String())
			case tt.code > 0 && (!errors.As(err, &ee) || ee.code != tt.code):
				t.Fatalf("err %v, want exit %d", err, tt.code)
			case tt.code < 0 && err == nil:
				t.Fatal("accepted")
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tt.notInOut != "" && strings.Contains(out.String()+errb.String(), tt.notInOut) {
				t.Errorf("output contains %q", tt.notInOut)
			}
		})
	}
	// Every problem is reported, not only the first.
	// (An unknown key stops decoding, so it is checked with the key removed.)
	var out, errb bytes.Buffer
	doc, _ := os.ReadFile(invalid)
	fixed := write("fixed-unknown.toml", strings.Replace(string(doc), "bogus = 1\n", "", 1))
	_ = run(context.Background(), []string{"config", "check", "--config", fixed}, &out, &errb)
	for _, w := range []string{"line 5: key controller.rate:", "line 6: key controller.hold_down:", "key cxone.token_url: required"} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errb.String())
		}
	}
}
