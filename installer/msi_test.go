package installer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// msiTable exports one table of an MSI with msiinfo: rows of tab-separated columns.
func msiTable(t *testing.T, msi, table string) [][]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s: %v", table, err)
	}
	var rows [][]string
	for i, l := range strings.Split(strings.TrimRight(string(out), "\r\n"), "\n") {
		if i < 3 { // column names, types, table name
			continue
		}
		rows = append(rows, strings.Split(strings.TrimRight(l, "\r"), "\t"))
	}
	return rows
}

func row(rows [][]string, key string) []string {
	for _, r := range rows {
		if len(r) > 0 && r[0] == key {
			return r
		}
	}
	return nil
}

func needMSI(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s not set: `make test-msi` builds the MSIs and runs this test", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	return p
}

// The built MSI holds the rows `make msi` is meant to produce, including the ones the build
// script patches in after wixl.
func TestMSITables(t *testing.T) {
	msi := needMSI(t, "PCIPAUSE_MSI")
	if _, err := exec.LookPath("msiinfo"); err != nil {
		t.Fatal("msiinfo not installed (Debian package msitools)")
	}
	tables := map[string][][]string{}
	get := func(name string) [][]string {
		if _, ok := tables[name]; !ok {
			tables[name] = msiTable(t, msi, name)
		}
		return tables[name]
	}
	for _, tc := range []struct {
		table, key string
		col        int
		check      func(string) bool
		what       string
	}{
		{"File", "pcipause.exe", 2, eq("pcipause.exe"), "service executable"},
		{"File", "pcipause_session.exe", 2, eq("pcipause-session.exe"), "session helper"},
		{"File", "pcipause.example.toml", 1, eq("ExampleConfig"), "example config"},
		{"Directory", "INSTALLDIR", 1, eq("ProgramFiles64Folder"), "program files (64-bit)"},
		{"Directory", "DATADIR", 1, eq("CommonAppDataFolder"), "example config under ProgramData"},
		{"ServiceInstall", "PcipauseService", 1, eq("pcipause"), "service name"},
		{"ServiceInstall", "PcipauseService", 3, eq("16"), "own process"},
		{"ServiceInstall", "PcipauseService", 4, eq("2"), "automatic start"},
		{"ServiceInstall", "PcipauseService", 8, eq("LocalSystem"), "LocalSystem"},
		{"ServiceInstall", "PcipauseService", 10, eq("service"), "run argument"},
		// 163 = start on install (1) + stop on install (2) and uninstall (32) + delete on uninstall (128)
		{"ServiceControl", "PcipauseServiceControl", 2, eq("163"), "start/stop/remove events"},
		{"CustomAction", "ConfigurePcipause", 1, flags(18 | 0x400 | 0x800 | 0x2000), "deferred, elevated, hidden-target exe action"},
		{"CustomAction", "ConfigurePcipause", 3, has(`configure --msi `, `"CXONE_ORG=[CXONE_ORG]"`, `"AGENT_MAPPING=[AGENT_MAPPING]"`), "configure command line"},
		{"CustomAction", "StoreClientSecret", 1, flags(18 | 0x400 | 0x800 | 0x2000), "deferred, elevated, hidden-target secret action"},
		{"CustomAction", "StoreClientSecret", 3, has(`"CLIENT_SECRET=[CLIENT_SECRET][CustomActionData]"`, `"CLIENT_SECRET_FILE=[CLIENT_SECRET_FILE]"`), "secret command line"},
		{"CustomAction", "SetStoreClientSecretData", 3, eq("[CLIENT_SECRET]"), "secret as the action's data"},
		{"CustomAction", "ForgetClientSecret", 2, eq("CLIENT_SECRET"), "secret property emptied after scheduling"},
		{"CustomAction", "ForgetStoreClientSecretData", 2, eq("StoreClientSecret"), "action data property emptied after scheduling"},
		{"Property", "MsiHiddenProperties", 1, has("CLIENT_SECRET", "StoreClientSecret", "CustomActionData"), "secret hidden from the log"},
		{"Property", "SecureCustomProperties", 1, has("CXONE_ORG", "CXONE_TENANT", "CXONE_BACKEND", "AGENT_MAPPING", "CLIENT_ID", "CLIENT_SECRET", "CLIENT_SECRET_FILE", "WIX_UPGRADE_DETECTED"), "secure public properties"},
		{"Property", "UpgradeCode", 1, eq("{ebccae1e-3dbf-41eb-8b44-7bf7e88357d9}"), "fixed upgrade code"},
		{"Property", "ALLUSERS", 1, eq("1"), "per machine"},
		{"InstallExecuteSequence", "RemoveExistingProducts", 2, eq("1401"), "old product removed right after InstallValidate"},
	} {
		r := row(get(tc.table), tc.key)
		if r == nil || len(r) <= tc.col {
			t.Errorf("%s: no %s row %q", tc.what, tc.table, tc.key)
			continue
		}
		if !tc.check(r[tc.col]) {
			t.Errorf("%s: %s row %q column %d is %q", tc.what, tc.table, tc.key, tc.col, r[tc.col])
		}
	}
	// HKLM Run value for the session helper.
	found := false
	for _, r := range get("Registry") {
		if len(r) >= 5 && r[1] == "2" && r[2] == `Software\Microsoft\Windows\CurrentVersion\Run` && r[3] == "pcipause-session" &&
			r[4] == `"[INSTALLDIR]pcipause-session.exe"` {
			found = true
		}
	}
	if !found {
		t.Errorf("no HKLM Run value for pcipause-session.exe: %v", get("Registry"))
	}
	// Configuration runs after the service is registered and before it is started; the secret
	// is forgotten right after its action is scheduled.
	seq := map[string]int{}
	for _, r := range get("InstallExecuteSequence") {
		n, _ := strconv.Atoi(r[len(r)-1])
		seq[r[0]] = n
	}
	order := []string{"InstallServices", "ConfigurePcipause", "SetStoreClientSecretData", "StoreClientSecret",
		"ForgetClientSecret", "ForgetStoreClientSecretData", "SetOverwriteActionData", "OverwriteActionData", "StartServices"}
	for i := 1; i < len(order); i++ {
		if seq[order[i-1]] == 0 || seq[order[i-1]] >= seq[order[i]] {
			t.Errorf("%s (%d) must come before %s (%d)", order[i-1], seq[order[i-1]], order[i], seq[order[i]])
		}
	}
}

func eq(want string) func(string) bool { return func(s string) bool { return s == want } }

func has(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

func flags(want int) func(string) bool {
	return func(s string) bool { n, err := strconv.Atoi(s); return err == nil && n&want == want }
}

// wineRig drives Wine in the prefix wineenv.sh set up.
type wineRig struct {
	prefix string
	logs   string
}

func (w *wineRig) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", args...)
	// Output goes to a file, not a pipe: services Wine starts on the way (services.exe, our
	// service) inherit the descriptors and would hold a pipe open long after wine returned.
	f, err := os.CreateTemp(w.logs, "wine-*.out")
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func (w *wineRig) drive(parts ...string) string {
	return filepath.Join(append([]string{w.prefix, "drive_c"}, parts...)...)
}

var stateRE = regexp.MustCompile(`STATE\s*:\s*\d+\s+(\w+)`)

// serviceState is the SCM's state of pcipause, or "" when the service does not exist.
func (w *wineRig) serviceState() string {
	out, _ := w.run("sc", "query", "pcipause")
	if m := stateRE.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// waitState waits for the service to reach want; the SCM starts services asynchronously.
func (w *wineRig) waitState(t *testing.T, want string) {
	t.Helper()
	var got string
	for i := 0; i < 120; i++ {
		if got = w.serviceState(); got == want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(w.prefix, "drive_c", "ProgramData", "pcipause", "logs", "pcipause.log"))
	t.Fatalf("service state %q, want %q; service log:\n%s", got, want, tail(string(log)))
}

func (w *wineRig) runValue() (string, bool) {
	out, err := w.run("reg", "query", `HKLM\Software\Microsoft\Windows\CurrentVersion\Run`, "/v", "pcipause-session")
	if err != nil || !strings.Contains(out, "pcipause-session") {
		return "", false
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.SplitN(strings.TrimSpace(l), "REG_SZ", 2); len(f) == 2 {
			return strings.TrimSpace(f[1]), true
		}
	}
	return "", true
}

// installed lists DisplayVersion of every installed product named pcipause.
func (w *wineRig) installed() []string {
	out, _ := w.run("reg", "query", `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`, "/s")
	var versions []string
	var name, version string
	flush := func() {
		if name == "pcipause" {
			versions = append(versions, version)
		}
		name, version = "", ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "HKEY_"):
			flush()
		case strings.HasPrefix(l, "DisplayName"):
			name = strings.TrimSpace(strings.SplitN(l, "REG_SZ", 2)[1])
		case strings.HasPrefix(l, "DisplayVersion"):
			version = strings.TrimSpace(strings.SplitN(l, "REG_SZ", 2)[1])
		}
	}
	flush()
	return versions
}

func (w *wineRig) msiexec(logName string, args ...string) (string, error) {
	log := filepath.Join(w.logs, logName)
	full := append(append([]string{"msiexec"}, args...), "/qn", "/l*v", log)
	out, err := w.run(full...)
	b, _ := os.ReadFile(log)
	if err != nil {
		// What the custom action printed (configure's error) is on wine's output.
		err = fmt.Errorf("%w; output:\n%s", err, out)
	}
	return string(b), errors.Join(err, errIf(len(b) == 0, "msiexec wrote no log "+log+": "+out))
}

func errIf(cond bool, msg string) error {
	if cond {
		return errors.New(msg)
	}
	return nil
}

func productVersion(t *testing.T, msi string) string {
	r := row(msiTable(t, msi, "Property"), "ProductVersion")
	if r == nil {
		t.Fatalf("%s has no ProductVersion", msi)
	}
	return r[1]
}

// grepTree reports files under root that contain needle.
func grepTree(root string, needle []byte) []string {
	var hits []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, needle) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// Install, upgrade and remove the MSI under Wine, as IT would with msiexec /qn: the service is
// registered and running, the properties land in the config, the secret lands in the
// credential store and nowhere in clear, an upgrade keeps config and state, and removal leaves
// no service, Run value or program files. Run inside installer/winetest/wineenv.sh (make
// test-msi), which provides the prefix, the display and the ProcessPrng shim.
func TestMSIWine(t *testing.T) {
	msi := needMSI(t, "PCIPAUSE_MSI")
	next := needMSI(t, "PCIPAUSE_MSI_NEXT")
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX not set: run through installer/winetest/wineenv.sh (make test-msi)")
	}
	if _, err := exec.LookPath("wine"); err != nil {
		t.Fatal("wine not installed (make deps)")
	}
	w := &wineRig{prefix: prefix, logs: t.TempDir()}
	// Wine stops services soon after its last ordinary process exits: keep one running.
	keep := exec.Command("wine", "notepad")
	keep.WaitDelay = 5 * time.Second
	if err := keep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keep.Process.Kill(); _ = keep.Wait() })

	// Whatever step fails, leave the prefix without the product for the tests after this one.
	t.Cleanup(func() {
		if len(w.installed()) > 0 {
			_, _ = w.msiexec("cleanup-next.log", "/x", winPath(next))
			_, _ = w.msiexec("cleanup.log", "/x", winPath(msi))
		}
	})

	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	secret := "pcipause-test-secret-" + hex.EncodeToString(rnd[:])
	programFiles := w.drive("Program Files", "pcipause")
	data := w.drive("ProgramData", "pcipause")
	cfgPath := filepath.Join(data, "pcipause.toml")

	for _, bad := range []struct{ prop, key string }{
		{"CXONE_BACKEND=bogus", "cxone.backend"},
		// Valid alone, but static mapping without users is a config the service refuses.
		{"AGENT_MAPPING=static", "agents.users"},
	} {
		t.Run("bad property rolls back: "+bad.prop, func(t *testing.T) {
			badInstall(t, w, msi, bad.prop, bad.key, secret, programFiles)
		})
	}
	// Each step builds on the one before: stop at the first that fails.
	ok := t.Run("install", func(t *testing.T) {
		log, err := w.msiexec("install.log", "/i", winPath(msi), "CXONE_ORG=acme", "CXONE_TENANT=tenant-42",
			"CLIENT_ID=host-7", "AGENT_MAPPING=username", "CLIENT_SECRET="+secret)
		if err != nil {
			t.Fatalf("msiexec /i: %v\n%s", err, tail(log))
		}
		w.waitState(t, "RUNNING")
		for _, f := range []string{"pcipause.exe", "pcipause-session.exe"} {
			if _, err := os.Stat(filepath.Join(programFiles, f)); err != nil {
				t.Error(err)
			}
		}
		if v, ok := w.runValue(); !ok || v != `"C:\Program Files\pcipause\pcipause-session.exe"` {
			t.Errorf("Run value = %q, %v", v, ok)
		}
		cfg := readTOML(t, cfgPath)
		for _, kv := range [][3]string{{"cxone", "org", "acme"}, {"cxone", "tenant_id", "tenant-42"},
			{"cxone", "client_id", "host-7"}, {"agents", "mapping", "username"}} {
			if got := cfg[kv[0]][kv[1]]; got != kv[2] {
				t.Errorf("config %s.%s = %v, want %q", kv[0], kv[1], got, kv[2])
			}
		}
		if !strings.Contains(log, "ConfigurePcipause") || !strings.Contains(log, "CXONE_ORG") {
			t.Errorf("the log does not show the custom action and properties; is it a verbose log?\n%s", tail(log))
		}
		if strings.Contains(log, secret) {
			t.Error("the MSI log holds the client secret")
		}
		cred := filepath.Join(data, "credential.dpapi")
		if fi, err := os.Stat(cred); err != nil || fi.Size() == 0 {
			t.Errorf("credential store %s not written: %v", cred, err)
		}
		// Nowhere in clear: not in program data (config, credential store, logs), the
		// installer cache, temp folders or the registry hives.
		var hits []string
		for _, root := range []string{data, w.drive("windows", "Installer"), w.drive("windows", "temp"), w.drive("users"), programFiles} {
			hits = append(hits, grepTree(root, []byte(secret))...)
		}
		for _, hive := range []string{"system.reg", "user.reg", "userdef.reg"} {
			if b, err := os.ReadFile(filepath.Join(prefix, hive)); err == nil && bytes.Contains(b, []byte(secret)) {
				hits = append(hits, hive)
			}
		}
		if len(hits) > 0 {
			t.Errorf("client secret in clear in %v", hits)
		}
		if v := w.installed(); len(v) != 1 || v[0] != productVersion(t, msi) {
			t.Errorf("installed versions %v, want [%s]", v, productVersion(t, msi))
		}
	})

	if !ok {
		return
	}
	marker := filepath.Join(data, "state", "upgrade-marker")
	ok = t.Run("upgrade keeps config and state", func(t *testing.T) {
		before, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(marker, []byte("state"), 0o644); err != nil {
			t.Fatal(err)
		}
		log, err := w.msiexec("upgrade.log", "/i", winPath(next))
		if err != nil {
			t.Fatalf("msiexec /i (upgrade): %v\n%s", err, tail(log))
		}
		w.waitState(t, "RUNNING")
		if v := w.installed(); len(v) != 1 || v[0] != productVersion(t, next) {
			t.Errorf("installed versions %v, want only [%s]", v, productVersion(t, next))
		}
		after, err := os.ReadFile(cfgPath)
		if err != nil || !bytes.Equal(before, after) {
			t.Errorf("config changed by the upgrade (err %v)", err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("state lost in the upgrade: %v", err)
		}
		if _, ok := w.runValue(); !ok {
			t.Error("Run value gone after the upgrade")
		}
	})

	if !ok {
		return
	}
	t.Run("uninstall leaves no service, Run value or program files", func(t *testing.T) {
		log, err := w.msiexec("uninstall.log", "/x", winPath(next))
		if err != nil {
			t.Fatalf("msiexec /x: %v\n%s", err, tail(log))
		}
		if st := w.serviceState(); st != "" {
			t.Errorf("service still registered, state %s", st)
		}
		if _, ok := w.runValue(); ok {
			t.Error("Run value left behind")
		}
		// A file still open elsewhere (the service's exe, between the service reporting
		// Stopped and its process exiting) can be removed only once that handle closes, a
		// little after msiexec returns: wait briefly before calling it left behind. A real
		// leftover still fails, naming what remains, with the end of the uninstall log. (CI
		// failed here once in about 20 runs, before the listing; cause not yet seen.)
		gone := func() bool { _, err := os.Stat(programFiles); return errors.Is(err, fs.ErrNotExist) }
		for deadline := time.Now().Add(10 * time.Second); !gone() && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := os.Stat(programFiles); !errors.Is(err, fs.ErrNotExist) {
			var left []string
			filepath.WalkDir(programFiles, func(p string, d fs.DirEntry, err error) error {
				left = append(left, p)
				return nil
			})
			t.Errorf("program files left behind (%v): %q\n%s", err, left, tail(log))
		}
		if v := w.installed(); len(v) != 0 {
			t.Errorf("still installed: %v", v)
		}
		// Config, credential and state (the audit trail) stay, by design.
		for _, p := range []string{cfgPath, marker} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s removed by uninstall: %v", p, err)
			}
		}
	})
}

// winPath maps a Unix path to Wine's Z: drive.
func winPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

func readTOML(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := toml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out[k] = sub
		}
	}
	return out
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// badInstall installs with one bad property: the install fails naming the key, leaks no secret
// and rolls back completely.
func badInstall(t *testing.T, w *wineRig, msi, prop, key, secret, programFiles string) {
	log, err := w.msiexec("bad.log", "/i", winPath(msi), prop, "CLIENT_SECRET="+secret)
	if err == nil {
		t.Fatalf("install with %s succeeded", prop)
	}
	if !strings.Contains(err.Error(), key) {
		t.Errorf("the failure does not name %s: %v", key, err)
	}
	if strings.Contains(log, secret) || strings.Contains(err.Error(), secret) {
		t.Error("the MSI log or output holds the client secret")
	}
	if st := w.serviceState(); st != "" {
		t.Errorf("service left behind in state %s", st)
	}
	if _, err := os.Stat(programFiles); err == nil {
		t.Error("program files left behind")
	}
	if _, ok := w.runValue(); ok {
		t.Error("Run value left behind")
	}
}

// `pcipause install` and `uninstall` against Wine's SCM, from a folder with a space in its
// name: the service is registered with a quoted image path, its run argument and automatic
// start, and removed again. (Starting it is the MSI test's job.)
func TestInstallCommandWine(t *testing.T) {
	exe := needMSI(t, "PCIPAUSE_WINDOWS_EXE")
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" {
		t.Fatal("WINEPREFIX not set: run through installer/winetest/wineenv.sh (make test-msi)")
	}
	w := &wineRig{prefix: prefix, logs: t.TempDir()}
	dir := w.drive("Program Files", "pcipause cli test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	copyFile(t, exe, filepath.Join(dir, "pcipause.exe"))
	winExe := `C:\Program Files\pcipause cli test\pcipause.exe`
	if st := w.serviceState(); st != "" {
		t.Fatalf("a pcipause service is already registered (%s)", st)
	}
	t.Cleanup(func() { _, _ = w.run("sc", "delete", "pcipause") })

	out, err := w.run(winExe, "install", "--no-start")
	if err != nil {
		t.Fatalf("pcipause install: %v\n%s", err, out)
	}
	// Wine's sc has no qc: read the service's registry key instead.
	key, err := w.run("reg", "query", `HKLM\System\CurrentControlSet\Services\pcipause`)
	if err != nil {
		t.Fatalf("reg query: %v\n%s", err, key)
	}
	for _, want := range []*regexp.Regexp{
		// quoted, so C:\Program.exe cannot hijack it
		regexp.MustCompile(`ImagePath\s+REG_(EXPAND_)?SZ\s+` + regexp.QuoteMeta(`"`+winExe+`" service`) + `\s*$`),
		regexp.MustCompile(`Start\s+REG_DWORD\s+0x2\s*$`), // automatic
		regexp.MustCompile(`ObjectName\s+REG_SZ\s+LocalSystem\s*$`),
	} {
		found := false
		for _, l := range strings.Split(key, "\n") {
			found = found || want.MatchString(strings.TrimRight(l, "\r"))
		}
		if !found {
			t.Errorf("service key lacks %s:\n%s", want, key)
		}
	}
	if st := w.serviceState(); st != "STOPPED" {
		t.Errorf("state after install --no-start %q, want STOPPED", st)
	}
	if out, err := w.run(winExe, "install", "--no-start"); err == nil {
		t.Errorf("second install succeeded:\n%s", out)
	}
	if out, err := w.run(winExe, "uninstall"); err != nil {
		t.Fatalf("pcipause uninstall: %v\n%s", err, out)
	}
	if st := w.serviceState(); st != "" {
		t.Errorf("service still registered after uninstall (%s)", st)
	}
}
