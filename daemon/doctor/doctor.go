// Package doctor checks that the service can do its job against CXone with the configured
// credential: config, credential, reachability, TLS version, clock skew, token, each scope or
// permission through a harmless call, and the agent's recordings. It prints one line per
// check, PASS or FAIL with the fix, and fails if any check fails.
package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"pcipause/daemon/cxone"
)

// ErrFailed is wrapped by Run's error when at least one check failed.
var ErrFailed = errors.New("checks failed")

// DefaultMaxSkew is the largest clock difference to CXone that passes.
const DefaultMaxSkew = 30 * time.Second

// ProbeID is the recording (wem-v1) or user (cxone-mask) id the scope probes ask about. It
// does not exist, so a granted scope answers 404 and nothing changes on the tenant.
const ProbeID = "pcipause-doctor-probe-0000"

// Input is what the checks run on. The caller loads the config and the credential and reports
// their errors here, so the doctor can explain them rather than stop at the first.
type Input struct {
	ConfigPath    string
	ConfigErr     error         // loading or validating the config failed
	CredentialErr error         // reading the credential failed
	Options       cxone.Options // from the config and the credential
	AgentID       string        // whose recordings to list; "" skips that check
	MaxSkew       time.Duration // default DefaultMaxSkew
	Now           func() time.Time
	Log           *slog.Logger
}

type outcome int

const (
	pass outcome = iota
	fail
	skip
)

func (o outcome) String() string { return [...]string{"PASS", "FAIL", "SKIP"}[o] }

type report struct {
	w      io.Writer
	failed int
	total  int
}

func (r *report) line(o outcome, check, msg, fix string) {
	r.total++
	if o == fail {
		r.failed++
	}
	s := fmt.Sprintf("%s  %-28s %s", o, check, msg)
	if o == fail && fix != "" {
		s += " — fix: " + fix
	}
	fmt.Fprintln(r.w, s)
}

// Run runs every check and writes one line each to w. It returns nil when none failed.
func Run(ctx context.Context, in Input, w io.Writer) error {
	if in.MaxSkew <= 0 {
		in.MaxSkew = DefaultMaxSkew
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.New(slog.DiscardHandler)
	}
	r := &report{w: w}
	defer func() {
		fmt.Fprintf(w, "%d checks, %d failed\n", r.total, r.failed)
	}()
	run(ctx, in, r)
	if r.failed > 0 {
		return fmt.Errorf("doctor: %d of %d %w", r.failed, r.total, ErrFailed)
	}
	return nil
}

func run(ctx context.Context, in Input, r *report) {
	later := []string{"credential", "options", "reachability", "tls", "clock skew", "token", "scopes", "recordings"}
	skipRest := func(from int, why string) {
		for _, c := range later[from:] {
			r.line(skip, c, why, "")
		}
	}
	if in.ConfigErr != nil {
		r.line(fail, "config", clean(in.ConfigErr), fmt.Sprintf("fix the named key in %s (pcipause config check shows it)", orDefault(in.ConfigPath)))
		skipRest(0, "needs a valid config")
		return
	}
	r.line(pass, "config", "loaded "+orDefault(in.ConfigPath), "")

	o := in.Options
	switch {
	case in.CredentialErr != nil:
		r.line(fail, "credential", clean(in.CredentialErr), "store it with: pcipause credential set")
		skipRest(1, "needs the credential")
		return
	case o.ClientSecret == "":
		r.line(fail, "credential", "client secret is empty", "store it with: pcipause credential set")
		skipRest(1, "needs the credential")
		return
	case o.Backend == cxone.BackendMask && o.AccessKeySecret == "":
		r.line(fail, "credential", "access key secret is empty (needed by cxone-mask)", "store both secrets with: pcipause credential set")
		skipRest(1, "needs the credential")
		return
	}
	msg := "client secret present"
	if o.Backend == cxone.BackendMask {
		msg = "client secret and access key secret present"
	}
	r.line(pass, "credential", msg, "")

	c, err := cxone.NewClient(o, in.Log)
	if err != nil {
		r.line(fail, "options", clean(err), "correct the [cxone] table of the config")
		skipRest(3, "needs valid [cxone] options")
		return
	}
	defer c.Close()
	r.line(pass, "options", "backend "+o.Backend, "")

	if !reach(ctx, in, c, r) {
		skipRest(3, "needs the API to be reachable")
		return
	}
	tok, err := c.Token(ctx)
	if err != nil {
		r.line(fail, "token", clean(err), tokenFix(err, o.Backend))
		skipRest(6, "needs a token")
		return
	}
	msg = "token obtained"
	if len(tok.Scopes) > 0 {
		msg += " with scope " + strings.Join(tok.Scopes, " ")
	}
	if !tok.Expiry.IsZero() {
		msg += fmt.Sprintf(", valid %s", time.Until(tok.Expiry).Round(time.Second))
	}
	r.line(pass, "token", msg, "")

	scopes(ctx, c, o.Backend, r)
	recordings(ctx, c, in.AgentID, r)
}

// reach makes one unauthenticated GET to the API base: any HTTP answer proves reachability,
// the connection state gives the TLS version, the Date header the clock skew.
func reach(ctx context.Context, in Input, c *cxone.Client, r *report) bool {
	base, _, err := c.Endpoints(ctx)
	if err != nil {
		r.line(fail, "reachability", "discovery: "+clean(err), "check discovery_url and tenant_id, or set base_url and token_url; check proxy and firewall")
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, cxone.DefaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		r.line(fail, "reachability", clean(err), "correct base_url")
		return false
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		fix := "check the network path to " + req.URL.Host + " (DNS, proxy, firewall)"
		if strings.Contains(err.Error(), "protocol version") {
			fix = "the server does not offer TLS 1.2 or newer; pcipause refuses older versions"
		} else if strings.Contains(err.Error(), "certificate") {
			fix = "the server certificate is not trusted: add its CA with cxone.ca_file"
		}
		r.line(fail, "reachability", "GET "+req.URL.Host+": "+clean(err), fix)
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	r.line(pass, "reachability", fmt.Sprintf("%s answered HTTP %d", req.URL.Host, resp.StatusCode), "")

	switch {
	case resp.TLS == nil:
		r.line(pass, "tls", "plain http to a loopback host (simulator only; anything else must be https)", "")
	case resp.TLS.Version >= tls.VersionTLS12:
		r.line(pass, "tls", tls.VersionName(resp.TLS.Version)+" negotiated, "+tls.CipherSuiteName(resp.TLS.CipherSuite), "")
	default:
		r.line(fail, "tls", tls.VersionName(resp.TLS.Version)+" negotiated", "the server must offer TLS 1.2 or newer")
	}

	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		r.line(skip, "clock skew", "the server sent no Date header", "")
		return true
	}
	// The Date header is truncated to the second: the server's clock read somewhere in
	// [date, date+1s), so measure from the middle and allow the half second either way.
	skew := in.Now().Sub(date.Add(500 * time.Millisecond))
	if skew.Abs() > in.MaxSkew+time.Second {
		r.line(fail, "clock skew", fmt.Sprintf("this clock is %s off the server's (limit %s)", skew.Round(time.Second), in.MaxSkew),
			"synchronise the clock (timedatectl set-ntp true; on Windows w32tm /resync)")
	} else {
		r.line(pass, "clock skew", fmt.Sprintf("%s off the server's", skew.Round(time.Second)), "")
	}
	return true
}

func tokenFix(err error, backend string) string {
	switch {
	case errors.Is(err, cxone.ErrUnauthorized) && backend == cxone.BackendMask && strings.Contains(err.Error(), "invalid_grant"):
		return "check access_key_id and the stored access key secret (pcipause credential set)"
	case errors.Is(err, cxone.ErrUnauthorized):
		return "check client_id and the stored client secret (pcipause credential set)"
	case errors.Is(err, cxone.ErrForbidden):
		return "grant the OAuth client the scopes it requests, or narrow cxone.scopes"
	case errors.Is(err, cxone.ErrMalformed):
		return "token_url does not point at an OAuth2 token endpoint"
	}
	return "check token_url and the network path to it"
}

// scopes probes each scope (wem-v1) or the Mask API permission with a call on ProbeID that
// changes nothing: a 404 means the call was authorised.
func scopes(ctx context.Context, c *cxone.Client, backend string, r *report) {
	type probe struct {
		scope string
		call  func() error
	}
	reason := "PCIPAUSE_DOCTOR_PROBE"
	var probes []probe
	if backend == cxone.BackendMask {
		// A mask probe could mask a real call if the probe user existed; reading the status
		// needs the same permission and changes nothing.
		probes = []probe{{"mask permission", func() error {
			_, err := c.Get(ctx, cxone.Target{Kind: cxone.KindUser, ID: ProbeID})
			return err
		}}}
	} else {
		t := cxone.Target{Kind: cxone.KindRecording, ID: ProbeID}
		probes = []probe{
			{cxone.ScopePause, func() error { return c.Pause(ctx, t, cxone.PauseRequest{Reason: reason}) }},
			{cxone.ScopeControl, func() error { return c.Resume(ctx, t, cxone.ResumeRequest{Reason: reason}) }},
			// The list must answer 200 with a decodable body even for an agent without
			// recordings, which also proves base_url points at the API: a wrong path would
			// answer the get/pause/resume probes with a 404 that looks like success.
			{cxone.ScopeRead, func() error {
				if _, err := c.ListActive(ctx, ProbeID); err != nil {
					if errors.Is(err, cxone.ErrForbidden) {
						return err
					}
					// %v, not %w: here even a 404 is a failure (the base URL is wrong).
					return fmt.Errorf("the recording list must answer 200: %v (is base_url right?)", err)
				}
				_, err := c.Get(ctx, t)
				return err
			}},
		}
	}
	for _, p := range probes {
		name := "scope " + p.scope
		if backend == cxone.BackendMask {
			name = p.scope
		}
		err := p.call()
		switch {
		case err == nil, errors.Is(err, cxone.ErrNotFound), errors.Is(err, cxone.ErrConflict):
			r.line(pass, name, "authorised (probe answered as expected)", "")
		case errors.Is(err, cxone.ErrForbidden):
			what := "the OAuth client lacks " + p.scope
			fix := "grant scope " + p.scope + " to client " + c.ClientID()
			if backend == cxone.BackendMask {
				what = "the API user lacks " + cxone.MaskPermission
				fix = "give the API user's role " + cxone.MaskPermission
			}
			r.line(fail, name, what+": "+clean(err), fix)
		default:
			r.line(fail, name, clean(err), "retry; if it persists check the API status and rate limits")
		}
	}
}

func recordings(ctx context.Context, c *cxone.Client, agent string, r *report) {
	if agent == "" {
		r.line(skip, "recordings", "no agent given (--agent ID lists that agent's active recordings)", "")
		return
	}
	ts, err := c.ListActive(ctx, agent)
	if err != nil {
		r.line(fail, "recordings", clean(err), "check the agent id and the read scope")
		return
	}
	if len(ts) == 0 {
		r.line(pass, "recordings", fmt.Sprintf("agent %s has no active recording", agent), "")
		return
	}
	var parts []string
	for _, t := range ts {
		p := t.ID
		if t.InteractionID != "" {
			p += " (interaction " + t.InteractionID + ")"
		}
		parts = append(parts, p)
	}
	r.line(pass, "recordings", fmt.Sprintf("agent %s: %d active: %s", agent, len(ts), strings.Join(parts, ", ")), "")
}

func orDefault(p string) string {
	if p == "" {
		return "the default config"
	}
	return p
}

// clean keeps an error on one line.
func clean(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
