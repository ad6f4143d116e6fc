package cxone

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"pcipause/daemon/buildinfo"
)

// Defaults of Options.
const (
	DefaultDiscoveryURL = "https://cxone.niceincontact.com"
	DefaultTimeout      = 10 * time.Second
	// maxResponse bounds every response body read; CXone answers are a few hundred bytes.
	maxResponse = 1 << 20
)

// The wem-v1 scopes, as the guide names them.
const (
	ScopePause   = "wem.recording.pause"
	ScopeControl = "wem.recording.control"
	ScopeRead    = "wem.recording.read"
	// MaskPermission is what a 403 from the Public Mask API most likely lacks.
	MaskPermission = "the Search and Playback > API > Multi-ACD Mask API permission"
)

// DefaultScopes are requested by wem-v1 when Options.Scopes is empty.
var DefaultScopes = []string{ScopePause, ScopeControl, ScopeRead}

// Options configure a client for either back end. Field names follow the config file's
// [cxone] table.
type Options struct {
	Backend string // BackendWEMv1 or BackendMask
	// Org is the wem-v1 org id in the default base URL https://{org}.niceincontact.com/api/wem/v1.
	Org string
	// BaseURL overrides the wem-v1 base URL, or for cxone-mask the discovered api_endpoint.
	BaseURL string
	// TokenURL overrides the token endpoint found in DiscoveryURL's openid-configuration.
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string // wem-v1; default DefaultScopes
	// AccessKeyID and AccessKeySecret are the cxone-mask API user's access key (password grant).
	AccessKeyID     string
	AccessKeySecret string
	TenantID        string // cxone-mask: the tenant for .well-known/cxone-configuration
	DiscoveryURL    string // default DefaultDiscoveryURL
	CAFile          string // extra PEM CA bundle trusted besides the system roots
	Timeout         time.Duration
	// HTTPClient replaces the transport (tests). An *http.Transport is cloned and still held
	// to TLS 1.2 or newer; any other RoundTripper is used as given.
	HTTPClient *http.Client
}

// Client talks to one CXone tenant through one back end. It implements Backend; the extra
// methods serve `pcipause doctor`.
type Client struct {
	opts    Options
	log     *slog.Logger
	hc      *http.Client
	timeout time.Duration
	tokens  *tokenCache

	mu       sync.Mutex // guards the discovered endpoints
	apiBase  string
	tokenURL string
}

var _ Backend = (*Client)(nil)

// New returns the Backend that Options select. It does no network I/O: discovery and the
// first token happen on the first call.
func New(opts Options, log *slog.Logger) (Backend, error) {
	return NewClient(opts, log)
}

// NewClient is New with the concrete type, for callers that need Token or Probe.
func NewClient(opts Options, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("cxone options: %w", err)
	}
	hc, err := httpClient(opts)
	if err != nil {
		return nil, fmt.Errorf("cxone options: %w", err)
	}
	c := &Client{opts: opts, log: log.With("component", "cxone", "backend", opts.Backend), hc: hc,
		timeout: opts.Timeout, tokenURL: opts.TokenURL}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch opts.Backend {
	case BackendWEMv1:
		c.apiBase = strings.TrimRight(opts.BaseURL, "/")
		if c.apiBase == "" {
			c.apiBase = "https://" + opts.Org + ".niceincontact.com/api/wem/v1"
		}
	case BackendMask:
		c.apiBase = strings.TrimRight(opts.BaseURL, "/")
	}
	c.tokens = &tokenCache{fetch: c.fetchToken}
	return c, nil
}

func (o *Options) validate() error {
	missing := func(name string) error { return fmt.Errorf("%s is required for backend %s", name, o.Backend) }
	switch o.Backend {
	case BackendWEMv1:
		if o.BaseURL == "" && o.Org == "" {
			return errors.New("org or base_url is required for backend wem-v1")
		}
		if o.Org != "" && !validHostLabel(o.Org) {
			return fmt.Errorf("org %q is not a valid host name label", o.Org)
		}
	case BackendMask:
		if o.AccessKeyID == "" {
			return missing("access_key_id")
		}
		if o.AccessKeySecret == "" {
			return missing("the access key secret")
		}
		if o.TenantID == "" && (o.BaseURL == "" || o.TokenURL == "") {
			return errors.New("tenant_id is required for backend cxone-mask unless base_url and token_url are both set")
		}
	case "":
		return errors.New("backend is required (wem-v1 or cxone-mask)")
	default:
		return fmt.Errorf("backend %q is not wem-v1 or cxone-mask", o.Backend)
	}
	if o.ClientID == "" {
		return missing("client_id")
	}
	if o.ClientSecret == "" {
		return missing("the client secret")
	}
	for name, u := range map[string]string{"base_url": o.BaseURL, "token_url": o.TokenURL, "discovery_url": o.DiscoveryURL} {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func validHostLabel(s string) bool {
	if len(s) > 63 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (r == '-' && i > 0 && i < len(s)-1)
		if !ok {
			return false
		}
	}
	return s != ""
}

// checkURL accepts https URLs, and plain http only to a loopback host (the local simulator):
// nothing leaves the machine without TLS.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %q", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%q: plain http is only allowed to a loopback host; use https", raw)
		}
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	return nil
}

// httpClient builds the client every request (token endpoint included) goes through: TLS 1.2+,
// the extra CA bundle, and the User-Agent and request-id stamp.
func httpClient(o Options) (*http.Client, error) {
	var rt http.RoundTripper
	var tr *http.Transport
	switch {
	case o.HTTPClient == nil || o.HTTPClient.Transport == nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	default:
		if t, ok := o.HTTPClient.Transport.(*http.Transport); ok {
			tr = t.Clone()
		} else {
			rt = o.HTTPClient.Transport
		}
	}
	if tr != nil {
		cfg := &tls.Config{}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			pool := cfg.RootCAs
			if pool == nil {
				if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
					pool = x509.NewCertPool()
				}
			} else {
				pool = pool.Clone()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", o.CAFile)
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
		rt = tr
	}
	hc := &http.Client{Transport: stamp{rt}}
	if o.HTTPClient != nil {
		hc.CheckRedirect = o.HTTPClient.CheckRedirect
	}
	return hc, nil
}

type ctxKey struct{}

// stamp sets the User-Agent and the request id (from the context) on every request.
type stamp struct{ next http.RoundTripper }

func (s stamp) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", buildinfo.UserAgent())
	if id, ok := r.Context().Value(ctxKey{}).(string); ok && r.Header.Get("X-Request-Id") == "" {
		r.Header.Set("X-Request-Id", id)
	}
	return s.next.RoundTrip(r)
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Name implements Backend.
func (c *Client) Name() string { return c.opts.Backend }

// HTTPClient is the client every call goes through (TLS 1.2+, extra CAs, User-Agent).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// response is one answered call.
type response struct {
	status    int
	header    http.Header
	body      []byte
	requestID string
}

// do sends one API call with a bearer token, refreshing the token once on a 401. Transport
// failures come back as *APIError (ErrTransient); a cancelled ctx comes back as ctx.Err().
func (c *Client) do(ctx context.Context, op, target, method, rawURL string, body []byte) (response, error) {
	var last response
	for attempt := 0; attempt < 2; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return last, err
		}
		last, err = c.send(ctx, op, target, method, rawURL, body, tok.AccessToken)
		if err != nil {
			return last, err
		}
		if last.status != http.StatusUnauthorized || attempt == 1 {
			return last, nil
		}
		c.log.Info("token refused, refreshing once", "op", op, "target", target, "request_id", last.requestID)
		c.tokens.invalidate(tok.AccessToken)
	}
	return last, nil
}

func (c *Client) send(ctx context.Context, op, target, method, rawURL string, body []byte, bearer string) (response, error) {
	id := newRequestID()
	res := response{requestID: id}
	rctx, cancel := context.WithTimeout(context.WithValue(ctx, ctxKey{}, id), c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, rawURL, rd)
	if err != nil {
		return res, &APIError{Op: op, Target: target, Kind: ErrBadRequest, RequestID: id, Msg: "cannot build request: " + scrub(err.Error())}
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err == nil {
		res.status, res.header = resp.StatusCode, resp.Header
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
		resp.Body.Close()
		if err == nil && len(res.body) > maxResponse {
			err = fmt.Errorf("response body larger than %d bytes", maxResponse)
			res.status = 0
			c.log.Warn("cxone call", "op", op, "target", target, "request_id", id, "err", err)
			return res, &APIError{Op: op, Target: target, Kind: ErrMalformed, RequestID: id, Msg: err.Error()}
		}
	}
	dur := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("cxone %s: %w", op, ctx.Err())
		}
		msg := transportMsg(err)
		c.log.Warn("cxone call failed", "op", op, "target", target, "request_id", id, "duration", dur, "err", msg)
		return res, &APIError{Op: op, Target: target, Kind: ErrTransient, RequestID: id, Msg: msg}
	}
	lvl := slog.LevelDebug
	if res.status >= 400 {
		lvl = slog.LevelWarn
	}
	c.log.Log(ctx, lvl, "cxone call", "op", op, "target", target, "method", method, "status", res.status,
		"request_id", id, "duration", dur)
	return res, nil
}

// transportMsg describes a transport error without the URL's query (which may carry ids).
func transportMsg(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout: " + scrub(err.Error())
	}
	return scrub(err.Error())
}

// scrub bounds a message and blanks long digit runs, so nothing an error carries can hold a
// card number, whatever a server echoes.
func scrub(s string) string {
	const maxLen = 300
	var b strings.Builder
	run := 0
	for _, r := range s {
		if b.Len() >= maxLen {
			b.WriteString("…")
			break
		}
		switch {
		case r >= '0' && r <= '9':
			run++
			if run > 6 {
				continue
			}
		case r < ' ' || r == 0x7f:
			r = ' '
			run = 0
		default:
			run = 0
		}
		b.WriteRune(r)
	}
	return b.String()
}

// apiError maps a non-success answer to the typed error.
func (c *Client) apiError(op, target string, res response) *APIError {
	e := &APIError{Op: op, Target: target, StatusCode: res.status, RequestID: res.requestID, Msg: serverMessage(res.body)}
	switch s := res.status; {
	case s == http.StatusAccepted, s == http.StatusTooEarly:
		e.Kind = ErrPending
	case s == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
	case s == http.StatusForbidden:
		e.Kind = ErrForbidden
		e.Scope = c.scopeFor(op)
	case s == http.StatusNotFound:
		e.Kind = ErrNotFound
	case s == http.StatusConflict:
		e.Kind = ErrConflict
	case s == http.StatusUnprocessableEntity:
		e.Kind = ErrNotApplicable
	case s == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
		e.RetryAfter = ParseRetryAfter(res.header.Get("Retry-After"), time.Now())
	case s == http.StatusRequestTimeout || s >= 500:
		e.Kind = ErrTransient
		e.RetryAfter = ParseRetryAfter(res.header.Get("Retry-After"), time.Now())
	default:
		e.Kind = ErrBadRequest
	}
	return e
}

// scopeFor names what a 403 on op most likely lacks.
func (c *Client) scopeFor(op string) string {
	if c.opts.Backend == BackendMask {
		return MaskPermission
	}
	switch op {
	case "pause":
		return ScopePause
	case "resume":
		return ScopeControl
	case "get", "list":
		return ScopeRead
	}
	return ""
}

// tokenCache holds the current token and fetches a new one when it is missing or expiring.
// Fetches are serialised so a burst of calls makes one token request.
type tokenCache struct {
	mu    sync.Mutex
	tok   *oauth2.Token
	fetch func(context.Context) (*oauth2.Token, error)
}

func (t *tokenCache) get(ctx context.Context) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.Valid() {
		return t.tok, nil
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, err
	}
	t.tok = tok
	return tok, nil
}

func (t *tokenCache) invalidate(access string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == access {
		t.tok = nil
	}
}

// Close drops idle connections. The client stays usable; it is for orderly shutdown and for
// tests that check for leaked goroutines.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// ClientID is the configured OAuth2 client id (not a secret), for messages.
func (c *Client) ClientID() string { return c.opts.ClientID }
