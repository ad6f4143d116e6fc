// Package config loads and validates the pcipause configuration file: one TOML document,
// decoded strictly (an unknown key, a wrong type or an invalid value is an error naming the key
// and its line), with a default for every setting that has a sensible one.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"pcipause/daemon/prio"
)

// CurrentVersion is the config format version this build writes and understands. Files
// without a version key are version 1.
const CurrentVersion = 1

// Backend names, as written in cxone.backend. They match the cxone package's constants; the
// config package does not import it so that the session helper can load the config cheaply.
const (
	BackendWEMv1 = "wem-v1"
	BackendMask  = "cxone-mask"
)

// Agent mapping modes for agents.mapping.
const (
	MappingUsername = "username" // the OS user name is the CXone agent id unless agents.users overrides it
	MappingStatic   = "static"   // only users listed in agents.users are agents
)

// Pause triggers for detector.pause_on.
const (
	PauseOnPAN       = "pan"       // pause the recording only for a Luhn-confirmed card number (or a field rule)
	PauseOnThreshold = "threshold" // also pause for a bare run of digits past the display threshold
)

// Config is the whole file. The zero value is not useful: start from Default or Load.
type Config struct {
	// Version is the file format version; only CurrentVersion is accepted.
	Version    int        `toml:"version"`
	CXone      CXone      `toml:"cxone"`
	Agents     Agents     `toml:"agents"`
	Controller Controller `toml:"controller"`
	Webhook    Webhook    `toml:"webhook"`
	Detector   Detector   `toml:"detector"`
	Overlay    Overlay    `toml:"overlay"`
	Paths      Paths      `toml:"paths"`
	Log        Log        `toml:"log"`
}

// CXone says which API to talk to and how to authenticate. Secrets are not here: the client
// secret and the access key secret live in the credential store.
type CXone struct {
	// Backend is BackendWEMv1 (the integration guide's API) or BackendMask (CXone's Public
	// Mask API).
	Backend string `toml:"backend"`
	// Org is the tenant's host prefix: wem-v1's default base URL is https://{org}.niceincontact.com/api/wem/v1.
	Org string `toml:"org"`
	// BaseURL overrides the API base URL (wem-v1: up to and including /api/wem/v1;
	// cxone-mask: the api_endpoint host that discovery would find).
	BaseURL string `toml:"base_url"`
	// TokenURL overrides the OAuth2 token endpoint (required for wem-v1; discovered for cxone-mask).
	TokenURL string `toml:"token_url"`
	// ClientID is the OAuth2 client id.
	ClientID string `toml:"client_id"`
	// Scopes requested with the token. Default for wem-v1: the guide's three scopes.
	Scopes []string `toml:"scopes"`
	// TenantID is the CXone tenant id used with cxone-configuration discovery (cxone-mask).
	TenantID string `toml:"tenant_id"`
	// DiscoveryURL is the issuer whose .well-known documents name the token endpoint and the
	// API host (cxone-mask).
	DiscoveryURL string `toml:"discovery_url"`
	// AccessKeyID is the API user's access key id (cxone-mask password grant).
	AccessKeyID string `toml:"access_key_id"`
	// CAFile is an optional PEM bundle trusted in addition to the system roots.
	CAFile string `toml:"ca_file"`
	// Timeout bounds one HTTP request to CXone.
	Timeout Duration `toml:"timeout"`
	// ClientSecretFile, for development only, reads the client secret from a file instead of
	// the credential store. Printed redacted.
	ClientSecretFile string `toml:"client_secret_file"`
}

// Agents maps OS users to CXone agent ids.
type Agents struct {
	// Mapping is MappingUsername or MappingStatic.
	Mapping string `toml:"mapping"`
	// Users maps an OS user name to a CXone agent id (wem-v1 agentId, cxone-mask userId).
	Users map[string]string `toml:"users"`
}

// Controller tunes the pause controller.
type Controller struct {
	// Rate is the sustained number of CXone calls per second this host may make (its share of
	// the org-wide limit).
	Rate float64 `toml:"rate"`
	// Burst is the token bucket size.
	Burst int `toml:"burst"`
	// HoldDown is how long a PCI window must stay closed before the recording is resumed.
	HoldDown Duration `toml:"hold_down"`
	// RefreshInterval is how often the agent's active recordings are listed in the background.
	RefreshInterval Duration `toml:"refresh_interval"`
	// PollInterval is how often known recordings are polled for their end when no webhook is used.
	PollInterval Duration `toml:"poll_interval"`
	// PollIntervalPaused replaces PollInterval while anything is paused.
	PollIntervalPaused Duration `toml:"poll_interval_paused"`
	// HelperGrace is how long a session helper may be gone before the service treats its
	// session as unprotected (fail closed: pause).
	HelperGrace Duration `toml:"helper_grace"`
	// RequestTimeout bounds one controller operation (token, GET-before-resume, the call).
	RequestTimeout Duration `toml:"request_timeout"`
	// MaxBackoff caps the wait between retries after 429, 5xx and timeouts.
	MaxBackoff Duration `toml:"max_backoff"`
}

// Webhook configures the receiver for CXone's screen-recording.ended webhook.
type Webhook struct {
	Enabled bool `toml:"enabled"`
	// Listen is the host:port the receiver binds.
	Listen string `toml:"listen"`
	// Path is the URL path CXone posts to.
	Path string `toml:"path"`
	// SecretFile holds the HMAC-SHA256 signing secret. Printed redacted.
	SecretFile string `toml:"secret_file"`
	// ReplayWindow is the largest accepted difference between the signed timestamp and now.
	ReplayWindow Duration `toml:"replay_window"`
	// MaxBody is the largest accepted request body in bytes.
	MaxBody int64 `toml:"max_body"`
}

// Detector configures when the session helper masks and when the service pauses.
type Detector struct {
	// PauseOn is PauseOnPAN or PauseOnThreshold. Masking is always immediate and local.
	PauseOn string `toml:"pause_on"`
	// Exclude lists applications where digit runs are ignored (e.g. a softphone dial pad).
	// Field rules still apply in them.
	Exclude []Match `toml:"exclude"`
	// Rules are the known PCI fields: focus entering one masks it at once.
	Rules []Rule `toml:"rule"`
}

// Match selects an application. Empty members match anything; at least one must be set.
type Match struct {
	// Exe is the executable's base name, compared case-insensitively (e.g. "softphone.exe").
	Exe string `toml:"exe"`
	// Class is the window class (X11 WM_CLASS instance or class; Win32 class name), exact.
	Class string `toml:"class"`
	// Title is a regular expression (RE2) matched against the window title.
	Title string `toml:"title"`
}

// Rule is one field rule: an application and, optionally, a field inside it.
type Rule struct {
	// Name appears in the audit log and the IPC pci_open message (e.g. "crm-card-number").
	Name  string `toml:"name"`
	Exe   string `toml:"exe"`
	Class string `toml:"class"`
	Title string `toml:"title"`
	// FieldLabel is the field's accessible name or label, or its automation id, exact.
	FieldLabel string `toml:"field_label"`
	// FieldRole is the accessible role (e.g. "text", "password text"), exact.
	FieldRole string `toml:"field_role"`
	// Rect is [x, y, w, h] in pixels relative to the window's top-left corner.
	Rect []int `toml:"rect,omitempty"`
	// WholeWindow masks the whole window while it has focus.
	WholeWindow bool `toml:"whole_window"`
}

// Overlay configures the masking windows.
type Overlay struct {
	// SeeThrough (Windows only) uses a capture-excluded transparent window instead of a solid
	// black one. Off until proven against the customer's recorder.
	SeeThrough bool `toml:"see_through"`
	// HelperNice is the CPU priority the service gives each session helper that connects
	// from the installed executable: on a busy PC the helper's mask races the agent's next
	// keystrokes, and waiting for a CPU is most of its latency. Linux: a nice value, -20 to 0
	// (0 leaves the helper alone). Windows: below 0 means the above-normal priority class.
	HelperNice int `toml:"helper_nice"`
}

// Paths are the service's files. Defaults depend on the operating system.
type Paths struct {
	StateDir   string `toml:"state_dir"`
	LogDir     string `toml:"log_dir"`
	Socket     string `toml:"socket"`
	Credential string `toml:"credential"`
}

// Log configures the service's log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level"`
	// Format is text or json.
	Format string `toml:"format"`
	// File is a log file; empty logs to stderr (the journal under systemd).
	File string `toml:"file"`
}

// Default returns the defaults for this operating system. The result still lacks the
// tenant-specific CXone settings, so Validate fails on it until they are filled in.
func Default() *Config {
	p := DefaultPaths()
	return &Config{
		Version: CurrentVersion,
		CXone: CXone{
			Backend:      BackendWEMv1,
			DiscoveryURL: "https://cxone.niceincontact.com",
			Timeout:      Dur(10 * time.Second),
		},
		Agents: Agents{Mapping: MappingUsername, Users: map[string]string{}},
		Controller: Controller{
			Rate:               5,
			Burst:              10,
			HoldDown:           Dur(500 * time.Millisecond),
			RefreshInterval:    Dur(30 * time.Second),
			PollInterval:       Dur(15 * time.Second),
			PollIntervalPaused: Dur(2 * time.Second),
			HelperGrace:        Dur(5 * time.Second),
			RequestTimeout:     Dur(15 * time.Second),
			MaxBackoff:         Dur(30 * time.Second),
		},
		Webhook: Webhook{
			Listen:       "127.0.0.1:8787",
			Path:         "/cxone/webhook",
			ReplayWindow: Dur(5 * time.Minute),
			MaxBody:      64 << 10,
		},
		Detector: Detector{PauseOn: PauseOnPAN},
		Overlay:  Overlay{HelperNice: prio.DefaultNice},
		Paths:    p,
		Log:      Log{Level: "info", Format: "text"},
	}
}

// WEMScopes are the OAuth2 scopes the integration guide requires.
var WEMScopes = []string{"wem.recording.pause", "wem.recording.control", "wem.recording.read"}

// DefaultPath is the config file used when --config is not given.
func DefaultPath() string { return defaultConfigPath() }

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates a TOML document over the defaults.
func Parse(doc []byte) (*Config, error) {
	c, lines, err := decode(doc)
	if err != nil {
		return nil, err
	}
	if err := c.validate(lines); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadUnvalidated reads and strictly decodes the file (unknown keys and wrong types are still
// errors) without the checks between settings, for tools that need a few settings from a
// config that is not finished yet, such as `pcipause credential set` during installation.
func LoadUnvalidated(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, _, err := decode(b)
	return c, err
}

func decode(doc []byte) (*Config, map[string]int, error) {
	c := Default()
	// Maps and slices decode into the defaults' values; start them empty so the file's
	// content is the whole content.
	c.Agents.Users = nil
	dec := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, nil, decodeError(err)
	}
	if c.Agents.Users == nil {
		c.Agents.Users = map[string]string{}
	}
	lines, err := keyLines(doc)
	if err != nil {
		return nil, nil, err // the decoder accepted it, so this does not happen; still not a panic
	}
	c.applyDerivedDefaults()
	return c, lines, nil
}

// Validate checks a Config built in code (e.g. Default plus settings). Errors name the key.
func (c *Config) Validate() error { return c.validate(nil) }

// applyDerivedDefaults fills settings whose default depends on other settings.
func (c *Config) applyDerivedDefaults() {
	if c.CXone.Scopes == nil && c.CXone.Backend == BackendWEMv1 {
		c.CXone.Scopes = append([]string(nil), WEMScopes...)
	}
}

// APIBaseURL is the effective wem-v1 base URL or cxone-mask API host: base_url if set, else
// derived from org (wem-v1), else "" (cxone-mask: found by discovery).
func (c *CXone) APIBaseURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	if c.Backend == BackendWEMv1 && c.Org != "" {
		return "https://" + c.Org + ".niceincontact.com/api/wem/v1"
	}
	return ""
}

// AgentID maps an OS user name to a CXone agent id; ok is false when the user is not an agent.
func (a *Agents) AgentID(user string) (id string, ok bool) {
	if id, ok := a.Users[user]; ok {
		return id, true
	}
	if a.Mapping == MappingUsername && user != "" {
		return user, true
	}
	return "", false
}

// Redacted returns a deep copy with every secret-bearing value replaced by a marker, fit to
// print or log.
func (c *Config) Redacted() *Config {
	r := *c
	r.CXone.Scopes = append([]string(nil), c.CXone.Scopes...)
	r.Agents.Users = make(map[string]string, len(c.Agents.Users))
	for k, v := range c.Agents.Users {
		r.Agents.Users[k] = v
	}
	r.Detector.Exclude = append([]Match(nil), c.Detector.Exclude...)
	r.Detector.Rules = make([]Rule, len(c.Detector.Rules))
	for i, rl := range c.Detector.Rules {
		rl.Rect = append([]int(nil), rl.Rect...)
		r.Detector.Rules[i] = rl
	}
	r.CXone.ClientSecretFile = redact(c.CXone.ClientSecretFile)
	r.Webhook.SecretFile = redact(c.Webhook.SecretFile)
	r.CXone.BaseURL = redactURL(c.CXone.BaseURL)
	r.CXone.TokenURL = redactURL(c.CXone.TokenURL)
	r.CXone.DiscoveryURL = redactURL(c.CXone.DiscoveryURL)
	return &r
}

// Redacted is the marker that replaces a secret in printed output.
const Redacted = "<redacted>"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

var userinfoRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@`)

// redactURL hides user:password@ in a URL.
func redactURL(s string) string {
	return userinfoRE.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// Write prints the config as TOML that Load accepts. Call it on Redacted() for display.
func (c *Config) Write(w io.Writer) error {
	b, err := toml.Marshal(c)
	if err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// Duration is a time.Duration written as a Go duration string ("500ms", "30s", "2m").
// Decoding never fails; a bad value is kept and reported by validation with its key and line.
type Duration struct {
	time.Duration
	bad string // the raw text when it did not parse
}

// Dur makes a Duration.
func Dur(d time.Duration) Duration { return Duration{Duration: d} }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		d.bad = string(b)
		if d.bad == "" {
			d.bad = `""`
		}
		return nil
	}
	d.Duration, d.bad = v, ""
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(shortDuration(d.Duration)), nil }

// shortDuration writes "5m" and "1h" rather than time's "5m0s" and "1h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Error is a config problem tied to a key and, when known, its line in the file.
type Error struct {
	Line int    // 1-based; 0 when the key is absent from the file
	Key  string // dotted, with [i] for array elements: detector.rule[1].title
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

var mismatchRE = regexp.MustCompile(`^cannot decode TOML (.+?) into .* of type (\S+)$`)

// decodeError turns go-toml's errors into Errors with key and line, and its messages into
// ones a person editing the file understands.
func decodeError(err error) error {
	var se *toml.StrictMissingError
	if errors.As(err, &se) {
		errs := make([]error, 0, len(se.Errors))
		for i := range se.Errors {
			line, _ := se.Errors[i].Position()
			errs = append(errs, &Error{Line: line, Key: strings.Join(se.Errors[i].Key(), "."), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := mismatchRE.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("wrong type: got a TOML %s, want %s", m[1], goTypeName(m[2]))
		}
		return &Error{Line: line, Key: strings.Join(de.Key(), "."), Msg: msg}
	}
	return fmt.Errorf("config: %w", err)
}

func goTypeName(t string) string {
	switch {
	case strings.HasSuffix(t, "config.Duration"):
		return `a duration string such as "500ms"`
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."), strings.HasPrefix(t, "struct"):
		return "a table"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return t
}

// sortedKeys is used where map order would make output or errors unstable.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
