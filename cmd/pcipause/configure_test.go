package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

const exampleDoc = `# comment kept
version = 1

[cxone]
# which API
backend = "wem-v1"
org = "example"
# tenant_id = ""

[agents]
mapping = "username"

[[detector.rule]]
name = "x"
`

func TestSetTOMLString(t *testing.T) {
	for _, tc := range []struct {
		name, doc, table, key, value string
		want                         string // a line the result must contain
		wantBefore                   string // ... directly after this line, if set
	}{
		{"replace", exampleDoc, "cxone", "org", "acme", `org = "acme"`, ""},
		{"below commented example", exampleDoc, "cxone", "tenant_id", "T-1", `tenant_id = "T-1"`, `# tenant_id = ""`},
		{"table start", exampleDoc, "cxone", "client_id", "c", `client_id = "c"`, `[cxone]`},
		{"new table", "version = 1", "agents", "mapping", "static", `mapping = "static"`, `[agents]`},
		{"empty doc", "", "cxone", "org", "o", `org = "o"`, `[cxone]`},
		{"quotes and backslashes", exampleDoc, "cxone", "client_id", `a"b\c`, `client_id = "a\"b\\c"`, ""},
		{"control char", exampleDoc, "cxone", "client_id", "a\tb", `client_id = "a\u0009b"`, ""},
		{"indented key", "[cxone]\n  org = \"x\"\n", "cxone", "org", "y", `  org = "y"`, "[cxone]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(setTOMLString([]byte(tc.doc), tc.table, tc.key, tc.value))
			lines := strings.Split(got, "\n")
			at := -1
			for i, l := range lines {
				if l == tc.want {
					at = i
				}
			}
			if at < 0 {
				t.Fatalf("result lacks %q:\n%s", tc.want, got)
			}
			if tc.wantBefore != "" && (at == 0 || lines[at-1] != tc.wantBefore) {
				t.Fatalf("%q not right after %q:\n%s", tc.want, tc.wantBefore, got)
			}
			if err := checkSettings([]byte(got), []setting{{tc.table, tc.key, tc.value}}, false); err != nil {
				t.Fatalf("checkSettings: %v\n%s", err, got)
			}
			if strings.Contains(tc.doc, "# comment kept") && !strings.Contains(got, "# comment kept") {
				t.Fatal("comment lost")
			}
		})
	}
}

func TestConfigureCommand(t *testing.T) {
	dir := t.TempDir()
	example := filepath.Join(dir, "example.toml")
	if err := os.WriteFile(example, []byte(exampleDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sub", "pcipause.toml")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		want    map[string]string // table.key -> value after the step
	}{
		{"init from example, empty skipped", []string{"--init-from", example, "--skip-empty",
			"--set", "cxone.org=acme", "--set", "cxone.client_id=", "--set", "agents.mapping=static"}, "",
			map[string]string{"cxone.org": "acme", "agents.mapping": "static", "cxone.backend": "wem-v1"}},
		{"existing file kept, not re-initialised", []string{"--init-from", example, "--set", "cxone.tenant_id=T9"}, "",
			map[string]string{"cxone.org": "acme", "cxone.tenant_id": "T9"}},
		{"invalid value refused", []string{"--set", "cxone.backend=bogus"}, "cxone.backend", map[string]string{"cxone.backend": "wem-v1"}},
		{"unknown key refused", []string{"--set", "cxone.client_secret=x"}, "cannot be set here", nil},
		{"no equals", []string{"--set", "cxone.org"}, "want key=value", nil},
		{"multi-line value", []string{"--set", "cxone.org=a\nb"}, "spans lines", nil},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`, nil},
		{"missing example", []string{"--config", filepath.Join(dir, "new.toml"), "--init-from", filepath.Join(dir, "nope.toml")}, "init-from", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"configure", "--config", cfg}, tc.args...)
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, &out, &errOut)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if tc.want == nil {
				return
			}
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := toml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				tbl, key, _ := strings.Cut(k, ".")
				sub, _ := m[tbl].(map[string]any)
				if got := sub[key]; got != v {
					t.Errorf("%s = %v, want %q", k, got, v)
				}
			}
			if !strings.Contains(string(b), "# comment kept") {
				t.Error("comments of the example lost")
			}
		})
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sub", ".pcipause-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// The editor never panics, and whatever it writes either reads back as the value asked for or
// is refused by checkSettings with an error.
func FuzzSetTOMLString(f *testing.F) {
	f.Add([]byte(exampleDoc), "cxone", "org", "acme")
	f.Add([]byte("[cxone]\norg = '''x'''\n"), "cxone", "org", "y")
	f.Add([]byte("cxone.org = \"x\"\n"), "cxone", "org", "y")
	f.Add([]byte("[cxone]\r\norg=\"x\"\r\n"), "cxone", "org", "\x00")
	f.Add([]byte("[ cxone ] # c\n[[a]]\norg = 1\n"), "cxone", "tenant_id", "é")
	f.Fuzz(func(t *testing.T, doc []byte, table, key, value string) {
		if !validName(table) || !validName(key) || strings.ContainsAny(value, "\r\n") {
			return
		}
		out := setTOMLString(doc, table, key, value)
		err := checkSettings(out, []setting{{table, key, value}}, false)
		if err != nil {
			return // refused with an error: fine
		}
		var m map[string]any
		if toml.Unmarshal(out, &m) != nil {
			t.Fatalf("checkSettings accepted invalid TOML:\n%s", out)
		}
	})
}

func validName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			return false
		}
	}
	return true
}

// The MSI's custom actions pass PROPERTY=value for every public property configure knows, and
// the build marks each of them secure; an unknown property is an error.
func TestConfigureMSIProperties(t *testing.T) {
	wxs, err := os.ReadFile("../../installer/windows/pcipause.wxs")
	if err != nil {
		t.Fatal(err)
	}
	build, err := os.ReadFile("../../installer/windows/build-msi.sh")
	if err != nil {
		t.Fatal(err)
	}
	props := []string{"CLIENT_SECRET_FILE"}
	for p := range msiProperties {
		props = append(props, p)
	}
	for _, p := range props {
		if !strings.Contains(string(wxs), "&quot;"+p+"=["+p+"]") {
			t.Errorf("pcipause.wxs does not pass %s=[%s] to configure", p, p)
		}
		if !regexp.MustCompile(`public="[^"]*\b` + p + `\b`).Match(build) {
			t.Errorf("build-msi.sh does not mark %s secure", p)
		}
	}
	if !strings.Contains(string(wxs), "&quot;CLIENT_SECRET=[CLIENT_SECRET][CustomActionData]&quot;") {
		t.Error("pcipause.wxs does not pass CLIENT_SECRET to configure")
	}

	example, err := os.ReadFile("../../installer/pcipause.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pcipause.toml")
	if err := os.WriteFile(filepath.Join(dir, "pcipause.example.toml"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		want    map[string]string
	}{
		{"properties, empty ones skipped", []string{"CXONE_BACKEND=", "CXONE_ORG=acme", "CXONE_TENANT=t-1", "CLIENT_ID=host-7", "AGENT_MAPPING="}, "",
			map[string]string{"cxone.backend": "wem-v1", "cxone.org": "acme", "cxone.tenant_id": "t-1", "cxone.client_id": "host-7", "agents.mapping": "username"}},
		{"unknown property", []string{"CXONE_SECRET=x"}, `unknown msi property "CXONE_SECRET"`, nil},
		{"not PROPERTY=value", []string{"CXONE_ORG"}, "is not PROPERTY=value", nil},
		{"bad value names the property", []string{"AGENT_MAPPING=sometimes"}, "agents.mapping", nil},
		// --msi checks the whole file: the service the MSI starts next would refuse it.
		{"whole config checked", []string{"AGENT_MAPPING=static"}, "agents.users", nil},
		{"secret twice", []string{"CLIENT_SECRET=a", "CLIENT_SECRET_FILE=" + filepath.Join(dir, "s")}, "give the client secret once", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"configure", "--config", cfg, "--msi"}, tc.args...)
			// --service-settings is implied and needs a service manager: only the Linux no-op
			// is exercised here; the Wine test covers Windows.
			err := run(context.Background(), args, &out, &errOut)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := toml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				tbl, key, _ := strings.Cut(k, ".")
				sub, _ := m[tbl].(map[string]any)
				if got := sub[key]; got != v {
					t.Errorf("%s = %v, want %q", k, got, v)
				}
			}
		})
	}
}

// The secret given to configure goes to `credential set` on stdin and is never printed.
func TestConfigureSecretNeverPrinted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("runs the Linux credential store through a built binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pcipause")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "pcipause.toml")
	cred := filepath.Join(dir, "credential")
	doc := "version = 1\n[cxone]\norg = \"acme\"\n[paths]\ncredential = \"" + cred + "\"\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "configure-test-secret-value"
	out, err := exec.Command(bin, "configure", "--config", cfg, "--client-secret-arg", secret).CombinedOutput()
	if err != nil {
		t.Fatalf("configure: %v\n%s", err, out)
	}
	if strings.Contains(string(out), secret) {
		t.Errorf("configure printed the secret:\n%s", out)
	}
	fi, err := os.Stat(cred)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("credential not stored: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credential mode %v", fi.Mode().Perm())
	}
	if out, err := exec.Command(bin, "credential", "check", "--config", cfg).CombinedOutput(); err != nil {
		t.Errorf("credential check after configure: %v\n%s", err, out)
	}
	if c := readAll(t, cfg); strings.Contains(c, secret) {
		t.Error("the secret was written into the config")
	}
}

func readAll(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --set values come from MSI properties and scripts: parsing never panics, and what it accepts
// is a settable key with a one-line value.
func FuzzSettingsFlag(f *testing.F) {
	for _, s := range []string{"cxone.org=acme", "agents.mapping=static", "cxone.org", "=x", "cxone.secret=x", "cxone.org=a\nb", "cxone.org==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		var s settingsFlag
		if err := s.Set(arg); err != nil {
			return
		}
		if len(s) != 1 {
			t.Fatalf("accepted %q as %d settings", arg, len(s))
		}
		if !slices.Contains(settable, s[0].table+"."+s[0].key) || strings.ContainsAny(s[0].value, "\r\n") {
			t.Fatalf("accepted %q as %+v", arg, s[0])
		}
	})
}
