package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"time"

	"pcipause/daemon/prio"
)

// validator collects every problem, not just the first, so one `pcipause config check` run
// shows them all.
type validator struct {
	lines map[string]int
	errs  []error
}

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Line: v.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.fail(key, "%q is not one of %s", val, quoteList(allowed))
}

func (v *validator) dur(key string, d Duration, lo, hi time.Duration) {
	switch {
	case d.bad != "":
		v.fail(key, "invalid duration %s: write a number with a unit, such as \"500ms\", \"30s\" or \"2m\"", quoteOnce(d.bad))
	case d.Duration < lo || d.Duration > hi:
		v.fail(key, "%s is out of range [%s, %s]", d.Duration, lo, hi)
	}
}

func (v *validator) httpURL(key, s string, required bool) {
	if s == "" {
		if required {
			v.fail(key, "required")
		}
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.fail(key, "%q is not an http(s) URL with a host", redactURL(s))
	}
}

func (v *validator) regexp(key, s string) {
	if s == "" {
		return
	}
	if _, err := regexp.Compile(s); err != nil {
		v.fail(key, "invalid regular expression: %v", err)
	}
}

func (c *Config) validate(lines map[string]int) error {
	v := &validator{lines: lines}
	if c.Version != CurrentVersion {
		v.fail("version", "unsupported config version %d (this build reads version %d)", c.Version, CurrentVersion)
	}

	x := &c.CXone
	v.oneOf("cxone.backend", x.Backend, BackendWEMv1, BackendMask)
	if x.Org != "" && !orgRE.MatchString(x.Org) {
		v.fail("cxone.org", "%q is not a host name label (letters, digits, '-')", x.Org)
	}
	v.httpURL("cxone.base_url", x.BaseURL, false)
	v.httpURL("cxone.token_url", x.TokenURL, false)
	v.httpURL("cxone.discovery_url", x.DiscoveryURL, false)
	if x.ClientID == "" {
		v.fail("cxone.client_id", "required")
	}
	for i, s := range x.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			v.fail(fmt.Sprintf("cxone.scopes[%d]", i), "%q is not a scope name", s)
		}
	}
	switch x.Backend {
	case BackendWEMv1:
		if x.BaseURL == "" && x.Org == "" {
			v.fail("cxone.org", "required for backend wem-v1 unless cxone.base_url is set")
		}
		if x.TokenURL == "" {
			v.fail("cxone.token_url", "required for backend wem-v1")
		}
	case BackendMask:
		if x.AccessKeyID == "" {
			v.fail("cxone.access_key_id", "required for backend cxone-mask")
		}
		if x.BaseURL == "" && x.TenantID == "" {
			v.fail("cxone.tenant_id", "required for backend cxone-mask unless cxone.base_url is set (API host discovery needs it)")
		}
		if (x.BaseURL == "" || x.TokenURL == "") && x.DiscoveryURL == "" {
			v.fail("cxone.discovery_url", "required for backend cxone-mask unless both cxone.base_url and cxone.token_url are set")
		}
	}
	v.dur("cxone.timeout", x.Timeout, 100*time.Millisecond, 5*time.Minute)

	v.oneOf("agents.mapping", c.Agents.Mapping, MappingUsername, MappingStatic)
	for _, u := range sortedKeys(c.Agents.Users) {
		if u == "" || c.Agents.Users[u] == "" {
			v.fail("agents.users."+u, "user name and agent id must both be non-empty")
		}
	}
	if c.Agents.Mapping == MappingStatic && len(c.Agents.Users) == 0 {
		v.fail("agents.users", "mapping \"static\" needs at least one user = \"agent id\" entry")
	}

	k := &c.Controller
	if k.Rate <= 0 || k.Rate > 1000 {
		v.fail("controller.rate", "%g is out of range (0, 1000] calls per second", k.Rate)
	}
	if k.Burst < 1 || k.Burst > 10000 {
		v.fail("controller.burst", "%d is out of range [1, 10000]", k.Burst)
	}
	v.dur("controller.hold_down", k.HoldDown, time.Millisecond, time.Minute) // 0 would read as "use the default"
	v.dur("controller.refresh_interval", k.RefreshInterval, time.Second, time.Hour)
	v.dur("controller.poll_interval", k.PollInterval, 500*time.Millisecond, time.Hour)
	v.dur("controller.poll_interval_paused", k.PollIntervalPaused, 250*time.Millisecond, time.Hour)
	v.dur("controller.helper_grace", k.HelperGrace, 0, 10*time.Minute)
	v.dur("controller.request_timeout", k.RequestTimeout, 100*time.Millisecond, 10*time.Minute)
	v.dur("controller.max_backoff", k.MaxBackoff, time.Second, time.Hour)

	w := &c.Webhook
	v.dur("webhook.replay_window", w.ReplayWindow, time.Second, time.Hour)
	if w.MaxBody < 1024 || w.MaxBody > 16<<20 {
		v.fail("webhook.max_body", "%d is out of range [1024, 16777216] bytes", w.MaxBody)
	}
	if w.Enabled {
		if _, _, err := net.SplitHostPort(w.Listen); err != nil {
			v.fail("webhook.listen", "%q is not host:port", w.Listen)
		}
		if w.SecretFile == "" {
			v.fail("webhook.secret_file", "required when the webhook is enabled (requests are HMAC-signed)")
		}
		if !strings.HasPrefix(w.Path, "/") {
			v.fail("webhook.path", "%q must start with /", w.Path)
		}
	}

	d := &c.Detector
	v.oneOf("detector.pause_on", d.PauseOn, PauseOnPAN, PauseOnThreshold)
	for i, m := range d.Exclude {
		key := fmt.Sprintf("detector.exclude[%d]", i)
		if m.Exe == "" && m.Class == "" && m.Title == "" {
			v.fail(key, "needs at least one of exe, class, title (an empty entry would exclude every application)")
		}
		v.regexp(key+".title", m.Title)
	}
	names := map[string]bool{}
	for i, r := range d.Rules {
		key := fmt.Sprintf("detector.rule[%d]", i)
		if r.Name == "" {
			v.fail(key+".name", "required")
		} else if names[r.Name] {
			v.fail(key+".name", "%q is used by an earlier rule", r.Name)
		}
		names[r.Name] = true
		if r.Exe == "" && r.Class == "" && r.Title == "" {
			v.fail(key, "needs at least one of exe, class, title to select the application")
		}
		v.regexp(key+".title", r.Title)
		field := r.FieldLabel != "" || r.FieldRole != "" || len(r.Rect) > 0
		if r.WholeWindow && field {
			v.fail(key+".whole_window", "cannot be combined with field_label, field_role or rect")
		}
		if !r.WholeWindow && !field {
			v.fail(key, "needs a field (field_label, field_role or rect) or whole_window = true")
		}
		if len(r.Rect) > 0 && (len(r.Rect) != 4 || r.Rect[0] < 0 || r.Rect[1] < 0 || r.Rect[2] <= 0 || r.Rect[3] <= 0) {
			v.fail(key+".rect", "want [x, y, w, h] with x, y >= 0 and w, h > 0, got %v", r.Rect)
		}
	}

	if err := prio.CheckNice(c.Overlay.HelperNice); err != nil {
		v.fail("overlay.helper_nice", "%v", err)
	}

	p := &c.Paths
	for _, f := range []struct{ key, val string }{
		{"paths.state_dir", p.StateDir}, {"paths.log_dir", p.LogDir},
		{"paths.socket", p.Socket}, {"paths.credential", p.Credential},
	} {
		if f.val == "" {
			v.fail(f.key, "required (there is no default on %s)", runtime.GOOS)
		}
	}

	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	return errors.Join(v.errs...)
}

var orgRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func quoteOnce(s string) string {
	if strings.HasPrefix(s, `"`) {
		return s
	}
	return fmt.Sprintf("%q", s)
}
