package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// base is a minimal valid wem-v1 document the error cases extend.
const base = `
[cxone]
org = "acme"
token_url = "https://acme.example/token"
client_id = "c1"
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatalf("Parse(base): %v", err)
	}
	def := Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"backend default", c.CXone.Backend, BackendWEMv1},
		{"base url derived", c.CXone.APIBaseURL(), "https://acme.niceincontact.com/api/wem/v1"},
		{"wem scopes default", strings.Join(c.CXone.Scopes, " "), "wem.recording.pause wem.recording.control wem.recording.read"},
		{"hold_down default", c.Controller.HoldDown.Duration, 500 * time.Millisecond},
		{"helper_grace default", c.Controller.HelperGrace.Duration, 5 * time.Second},
		{"pause_on default", c.Detector.PauseOn, PauseOnPAN},
		{"webhook off", c.Webhook.Enabled, false},
		{"see_through off", c.Overlay.SeeThrough, false},
		{"helper_nice default", c.Overlay.HelperNice, -10},
		{"socket default", c.Paths.Socket, def.Paths.Socket},
		{"version", c.Version, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestDefaultPathsLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux default paths")
	}
	p := DefaultPaths()
	want := Paths{StateDir: "/var/lib/pcipause", LogDir: "/var/log/pcipause", Socket: "/run/pcipause/ipc.sock", Credential: "/etc/pcipause/credential"}
	if p != want {
		t.Errorf("DefaultPaths() = %+v, want %+v", p, want)
	}
	if DefaultPath() != "/etc/pcipause/pcipause.toml" {
		t.Errorf("DefaultPath() = %q", DefaultPath())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error, all required
	}{
		{"unknown key", base + "[controller]\nratee = 3\n", []string{"line 7:", "key controller.ratee:", "unknown key"}},
		{"unknown table", base + "[cxonee]\nx = 1\n", []string{"line 6:", "cxonee"}},
		{"two unknown keys both reported", base + "bogus = 1\nalso = 2\n", []string{"line 6:", "cxone.bogus", "line 7:", "cxone.also"}},
		{"wrong type int", base + "[controller]\nburst = \"ten\"\n", []string{"line 7:", "key controller.burst:", "wrong type", "want an integer"}},
		{"wrong type string", base + "timeout = 5\n", []string{"line 6:", "key cxone.timeout:", "invalid duration"}},
		{"bad duration", base + "[controller]\nhold_down = \"half a second\"\n", []string{"line 7:", "key controller.hold_down:", "invalid duration", `"500ms"`}},
		{"duration out of range", base + "[controller]\nhold_down = \"2h\"\n", []string{"line 7:", "key controller.hold_down:", "out of range"}},
		{"zero hold-down", base + "[controller]\nhold_down = \"0s\"\n", []string{"line 7:", "key controller.hold_down:", "out of range [1ms, 1m0s]"}},
		{"helper nice above 0", base + "[overlay]\nhelper_nice = 5\n", []string{"line 7:", "key overlay.helper_nice:", "out of range [-20, 0]"}},
		{"helper nice below -20", base + "[overlay]\nhelper_nice = -40\n", []string{"line 7:", "key overlay.helper_nice:", "out of range [-20, 0]"}},
		{"negative rate", base + "[controller]\n\n\nrate = -1.0\n", []string{"line 9:", "key controller.rate:"}},
		{"bad backend", strings.Replace(base, "[cxone]", "[cxone]\nbackend = \"wem-v2\"", 1), []string{"line 3:", "key cxone.backend:", `"wem-v2" is not one of "wem-v1", "cxone-mask"`}},
		{"missing client id", "[cxone]\norg = \"acme\"\ntoken_url = \"https://t.example/\"\n", []string{"key cxone.client_id: required"}},
		{"wem needs token url", "[cxone]\norg = \"acme\"\nclient_id = \"x\"\n", []string{"key cxone.token_url: required for backend wem-v1"}},
		{"mask needs access key", "[cxone]\nbackend = \"cxone-mask\"\nclient_id = \"x\"\ntenant_id = \"t\"\n", []string{"key cxone.access_key_id: required"}},
		{"bad url", base + "base_url = \"ftp://x\"\n", []string{"line 6:", "key cxone.base_url:", "not an http(s) URL"}},
		{"bad org", strings.Replace(base, `"acme"`, `"ac me"`, 1), []string{"line 3:", "key cxone.org:"}},
		{"bad title regexp in rule", base + "[[detector.rule]]\nname = \"a\"\nexe = \"x\"\nwhole_window = true\n[[detector.rule]]\nname = \"b\"\ntitle = \"(\"\nwhole_window = true\n", []string{"line 12:", "key detector.rule[1].title:", "invalid regular expression"}},
		{"duplicate rule name", base + "[[detector.rule]]\nname = \"a\"\nexe = \"x\"\nwhole_window = true\n[[detector.rule]]\nname = \"a\"\nexe = \"y\"\nwhole_window = true\n", []string{"line 11:", "key detector.rule[1].name:", "earlier rule"}},
		{"rule without field", base + "[[detector.rule]]\nname = \"a\"\nexe = \"x\"\n", []string{"line 6:", "key detector.rule[0]:", "whole_window"}},
		{"bad rect", base + "[[detector.rule]]\nname = \"a\"\nexe = \"x\"\nrect = [1, 2, 3]\n", []string{"line 9:", "key detector.rule[0].rect:"}},
		{"empty exclude", base + "[detector]\nexclude = [{exe = \"a\"},\n  {title = \"\"}]\n", []string{"line 8:", "key detector.exclude[1]:", "every application"}},
		{"inline exclude bad regexp", base + "[detector]\nexclude = [{ title = \"[\" }]\n", []string{"line 7:", "key detector.exclude[0].title:"}},
		{"pause_on", base + "[detector]\npause_on = \"always\"\n", []string{"line 7:", "key detector.pause_on:"}},
		{"webhook without secret", base + "[webhook]\nenabled = true\n", []string{"key webhook.secret_file: required"}},
		{"static mapping without users", base + "[agents]\nmapping = \"static\"\n", []string{"key agents.users:"}},
		{"future version", "version = 2\n" + base, []string{"line 1:", "key version:", "unsupported config version 2"}},
		{"syntax error", base + "[controller\n", []string{"line 6:"}},
		{"duplicate key", base + "client_id = \"again\"\n", []string{"line 6:", "already defined"}},
		{"date for a duration", base + "[controller]\nhold_down = 1979-05-27\n", []string{"line 7:", "key controller.hold_down:", "got a TOML local date, want a duration string"}},
		{"table for a duration", base + "[controller]\nhold_down = {Duration = 5}\n", []string{"line 7:", "unknown key"}},
		{"log level", base + "[log]\nlevel = \"loud\"\n", []string{"line 7:", "key log.level:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error %q does not start with \"config: \"", err)
			}
			var ce *Error
			if strings.Contains(tt.want[0], "line") && !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestLoadFiles(t *testing.T) {
	tests := []struct {
		path  string
		check func(t *testing.T, c *Config)
	}{
		{"testdata/v1.toml", func(t *testing.T, c *Config) {
			if c.Agents.Mapping != MappingStatic || c.Agents.Users["bob"] != "agent-1002" {
				t.Errorf("agents = %+v", c.Agents)
			}
			if id, ok := c.Agents.AgentID("alice"); !ok || id != "agent-1001" {
				t.Errorf("AgentID(alice) = %q, %v", id, ok)
			}
			if _, ok := c.Agents.AgentID("mallory"); ok {
				t.Error("static mapping accepted an unlisted user")
			}
			if c.Controller.HoldDown.Duration != 750*time.Millisecond || c.Controller.Rate != 2.5 {
				t.Errorf("controller = %+v", c.Controller)
			}
			if c.Detector.PauseOn != PauseOnThreshold || len(c.Detector.Rules) != 1 || c.Detector.Rules[0].FieldLabel != "Card number" {
				t.Errorf("detector = %+v", c.Detector)
			}
		}},
		{"../../installer/pcipause.example.toml", func(t *testing.T, c *Config) {
			if len(c.Detector.Rules) != 2 || !c.Detector.Rules[1].WholeWindow {
				t.Errorf("rules = %+v", c.Detector.Rules)
			}
			if len(c.Detector.Exclude) != 1 || c.Detector.Exclude[0].Class != "DialPad" {
				t.Errorf("exclude = %+v", c.Detector.Exclude)
			}
			if id, ok := c.Agents.AgentID("jdoe"); !ok || id != "jdoe" {
				t.Errorf("username mapping: AgentID(jdoe) = %q, %v", id, ok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			c, err := Load(tt.path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("Load(missing) = %v", err)
	}
}

// TestWriteRoundTrip: what `config check` prints is itself a valid config with the same values.
func TestWriteRoundTrip(t *testing.T) {
	for _, path := range []string{"testdata/v1.toml", "../../installer/pcipause.example.toml"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := c.Write(&buf); err != nil {
				t.Fatal(err)
			}
			c2, err := Parse(buf.Bytes())
			if err != nil {
				t.Fatalf("reparse printed config: %v\n%s", err, buf.String())
			}
			var buf2 bytes.Buffer
			if err := c2.Write(&buf2); err != nil {
				t.Fatal(err)
			}
			if buf.String() != buf2.String() {
				t.Errorf("round trip changed the config:\n%s\n---\n%s", buf.String(), buf2.String())
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	doc := base + `client_secret_file = "/root/dev-secret-path"
base_url = "https://user:hunter2@acme.example/api"
[webhook]
secret_file = "/etc/pcipause/webhook-secret-path"
`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.Redacted().Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"dev-secret-path", "hunter2", "webhook-secret-path"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted output contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, Redacted) {
		t.Errorf("no redaction marker in output:\n%s", out)
	}
	if c.CXone.ClientSecretFile != "/root/dev-secret-path" {
		t.Error("Redacted modified the original")
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {500 * time.Millisecond, "500ms"}, {5 * time.Minute, "5m"}, {time.Hour, "1h"},
		{90 * time.Minute, "1h30m"}, {time.Hour + time.Second, "1h0m1s"}, {30 * time.Second, "30s"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
		if back, err := time.ParseDuration(shortDuration(tt.d)); err != nil || back != tt.d {
			t.Errorf("%q does not parse back to %v", shortDuration(tt.d), tt.d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/v1.toml", "../../installer/pcipause.example.toml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Add([]byte(base + "[controller]\nhold_down = \"x\"\n"))
	f.Add([]byte("[detector]\nexclude = [{exe=\"a\"}, 3]\n[[detector.rule]]\nrect=[1,2]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := c.Write(&buf); err != nil {
			t.Fatalf("Write of a valid config: %v", err)
		}
		if _, err := Parse(buf.Bytes()); err != nil {
			t.Fatalf("printed config does not reparse: %v\n%s", err, buf.String())
		}
	})
}
