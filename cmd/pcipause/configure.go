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
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"pcipause/daemon/config"
	"pcipause/daemon/svcctl"
)

func init() {
	register(&command{name: "configure",
		short: "set config keys in place, keeping comments (used by the MSI; --set cxone.org=acme ...)",
		run:   runConfigure})
}

// settable are the keys `configure --set` may write: what a deployment tool knows per site.
// Everything else is edited in the file.
var settable = []string{
	"cxone.backend", "cxone.org", "cxone.base_url", "cxone.token_url", "cxone.client_id",
	"cxone.tenant_id", "cxone.discovery_url", "cxone.access_key_id", "agents.mapping",
}

// msiProperties maps the MSI's public properties to config keys; CLIENT_SECRET and
// CLIENT_SECRET_FILE go to the credential store instead.
var msiProperties = map[string]string{
	"CXONE_BACKEND": "cxone.backend",
	"CXONE_ORG":     "cxone.org",
	"CXONE_TENANT":  "cxone.tenant_id",
	"CLIENT_ID":     "cxone.client_id",
	"AGENT_MAPPING": "agents.mapping",
}

type setting struct{ table, key, value string }

type settingsFlag []setting

func (s *settingsFlag) String() string { return "" }
func (s *settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", v)
	}
	k = strings.TrimSpace(k)
	if !slices.Contains(settable, k) {
		return fmt.Errorf("key %q cannot be set here (settable: %s)", k, strings.Join(settable, ", "))
	}
	if strings.ContainsAny(val, "\r\n") {
		return fmt.Errorf("key %s: value spans lines", k)
	}
	i := strings.LastIndex(k, ".")
	*s = append(*s, setting{table: k[:i], key: k[i+1:], value: val})
	return nil
}

func runConfigure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("configure", flag.ContinueOnError)
	fset.SetOutput(stderr)
	cfgPath := fset.String("config", config.DefaultPath(), "config file to edit (created if absent)")
	initFrom := fset.String("init-from", "", "when the config file does not exist, start from this file (the annotated example)")
	skipEmpty := fset.Bool("skip-empty", false, "ignore --set with an empty value (MSI properties not given)")
	secretArg := fset.String("client-secret-arg", "", "store this client secret through 'pcipause credential set' (the MSI's CLIENT_SECRET; "+
		"a secret on a command line is visible to local administrators while it runs: prefer 'credential set')")
	secretFile := fset.String("client-secret-file", "", "store the client secret read from this file through 'pcipause credential set --from-file'")
	serviceSettings := fset.Bool("service-settings", false, "Windows: also set delayed automatic start and restart-on-failure on the installed service")
	msi := fset.Bool("msi", false, "the MSI's custom action: arguments are PROPERTY=value; implies --init-from the example beside the config, --skip-empty, --service-settings")
	var sets settingsFlag
	fset.Var(&sets, "set", "key=value to write (repeatable)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *msi {
		// The custom action passes PROPERTY=value: short enough for the 255 characters of its
		// command line column, and the mapping lives here, next to the keys it writes.
		for _, a := range fset.Args() {
			prop, val, ok := strings.Cut(a, "=")
			switch {
			case !ok:
				return fmt.Errorf("configure: msi argument %q is not PROPERTY=value", a)
			case prop == "CLIENT_SECRET":
				*secretArg = val
			case prop == "CLIENT_SECRET_FILE":
				*secretFile = val
			case msiProperties[prop] != "":
				if err := sets.Set(msiProperties[prop] + "=" + val); err != nil {
					return fmt.Errorf("configure: %s: %w", prop, err)
				}
			default:
				return fmt.Errorf("configure: unknown msi property %q", prop)
			}
		}
		*skipEmpty, *serviceSettings = true, true
		if *initFrom == "" {
			*initFrom = filepath.Join(filepath.Dir(*cfgPath), "pcipause.example.toml")
		}
	}
	if !*msi && fset.NArg() > 0 {
		return fmt.Errorf("configure: unexpected argument %q", fset.Arg(0))
	}
	if *secretArg != "" && *secretFile != "" {
		return errors.New("configure: give the client secret once: --client-secret-arg or --client-secret-file")
	}
	if *skipEmpty {
		sets = slices.DeleteFunc(sets, func(s setting) bool { return s.value == "" })
	}

	doc, mode, err := readConfigDoc(*cfgPath, *initFrom)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	for _, s := range sets {
		doc = setTOMLString(doc, s.table, s.key, s.value)
	}
	if err := checkSettings(doc, sets, *msi); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := writeFileAtomic(*cfgPath, doc, mode); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	fmt.Fprintf(stdout, "configure: wrote %s (%d keys set)\n", *cfgPath, len(sets))

	if *secretArg != "" || *secretFile != "" {
		if err := storeSecret(ctx, *cfgPath, *secretArg, *secretFile, stdout, stderr); err != nil {
			return fmt.Errorf("configure: %w", err)
		}
	}
	if *serviceSettings {
		c, err := svcctl.New(svcctl.Options{Log: cliLogger(stderr)})
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		if err := c.ApplyRecovery(ctx); err != nil {
			return fmt.Errorf("configure: %w", err)
		}
	}
	return nil
}

// checkSettings proves the edit did what was asked, and that the settings themselves are valid.
// Other problems (a tenant not fully configured yet) are left to `pcipause config check`, so IT
// can set keys one at a time — unless strict, as for the MSI: the service it starts next refuses
// an invalid config, and the install should fail here, naming the key, not there.
func checkSettings(doc []byte, sets []setting, strict bool) error {
	var m map[string]any
	if err := toml.Unmarshal(doc, &m); err != nil {
		return fmt.Errorf("edited file is not valid TOML: %w", err)
	}
	for _, s := range sets {
		t, _ := m[s.table].(map[string]any)
		if got, _ := t[s.key].(string); got != s.value {
			return fmt.Errorf("key %s.%s could not be set in place (is it written in another form in the file?)", s.table, s.key)
		}
	}
	_, err := config.Parse(doc)
	if strict && err != nil {
		return err
	}
	var cerrs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		cerrs = j.Unwrap()
	} else if err != nil {
		cerrs = []error{err}
	}
	for _, e := range cerrs {
		var ce *config.Error
		if !errors.As(e, &ce) {
			continue
		}
		for _, s := range sets {
			if ce.Key == s.table+"."+s.key {
				return e
			}
		}
	}
	return nil
}

func readConfigDoc(path, initFrom string) ([]byte, fs.FileMode, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, 0, err
		}
		return b, fi.Mode().Perm(), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	if initFrom != "" {
		b, err := os.ReadFile(initFrom)
		if err != nil {
			return nil, 0, fmt.Errorf("init-from: %w", err)
		}
		return b, 0o644, nil
	}
	return []byte(fmt.Sprintf("version = %d\n", config.CurrentVersion)), 0o644, nil
}

var (
	tableRE = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$`)
	arrayRE = regexp.MustCompile(`^\s*\[\[`)
)

// setTOMLString writes key = "value" into [table], in place: it replaces the key's line if the
// table has one, else adds it below a commented-out example of the key, else at the table's
// start, else appends the table. Comments and the rest of the file stay as they are.
func setTOMLString(doc []byte, table, key, value string) []byte {
	lines := strings.SplitAfter(string(doc), "\n")
	keyRE := regexp.MustCompile(`^(\s*)` + regexp.QuoteMeta(key) + `\s*=`)
	commentRE := regexp.MustCompile(`^\s*#\s*` + regexp.QuoteMeta(key) + `\s*=`)
	line := key + " = " + tomlString(value) + "\n"
	cur, header, commented, found := "", -1, -1, -1
	for i, l := range lines {
		trimmed := strings.TrimRight(l, "\r\n")
		if m := tableRE.FindStringSubmatch(trimmed); m != nil {
			cur = m[1]
			if cur == table {
				header = i
			}
			continue
		}
		if arrayRE.MatchString(trimmed) {
			cur = "\x00array"
			continue
		}
		if cur != table {
			continue
		}
		if m := keyRE.FindStringSubmatch(trimmed); m != nil {
			found = i
			lines[i] = m[1] + line
			break
		}
		if commented < 0 && commentRE.MatchString(trimmed) {
			commented = i
		}
	}
	switch {
	case found >= 0:
	case commented >= 0:
		lines = slices.Insert(lines, commented+1, line)
	case header >= 0:
		lines = slices.Insert(lines, header+1, line)
	default:
		if n := len(lines); n > 0 && lines[n-1] != "" && !strings.HasSuffix(lines[n-1], "\n") {
			lines[n-1] += "\n"
		}
		lines = append(lines, "\n["+table+"]\n", line)
	}
	return []byte(strings.Join(lines, ""))
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".pcipause-*.toml")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// storeSecret hands the secret to `pcipause credential set` on its standard input (or names the
// file), so the one place that stores credentials stays the credential command.
func storeSecret(ctx context.Context, cfgPath, secret, file string, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("store client secret: %w", err)
	}
	args := []string{"credential", "set", "--config", cfgPath}
	if file != "" {
		args = append(args, "--from-file", file)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	if file == "" {
		cmd.Stdin = bytes.NewBufferString(secret + "\n")
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("store client secret: pcipause credential set: %w", err)
	}
	return nil
}
