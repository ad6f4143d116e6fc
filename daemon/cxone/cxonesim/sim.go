// Package cxonesim is a strict in-process and stand-alone fake of NICE CXone for tests and the
// demo: the OAuth2 token endpoint (client credentials and password grant), the integration
// guide's wem-v1 screen-recording API, CXone's Public Mask API, the discovery documents, an
// org-wide rate limit, the screen-recording.ended webhook, fault injection and a control API
// under /sim/ that seeds the tenant and reads back every call it answered.
package cxonesim

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Scopes of the wem-v1 API, as the guide names them.
const (
	ScopePause   = "wem.recording.pause"
	ScopeControl = "wem.recording.control"
	ScopeRead    = "wem.recording.read"
	// PermMask is the security-profile permission the Public Mask API needs
	// ("Search and Playback > API > Multi-ACD Mask API"); the simulator models it as a scope
	// granted to an access key.
	PermMask = "mask.api"
)

// AllScopes are granted to a client registered without an explicit scope list.
var AllScopes = []string{ScopePause, ScopeControl, ScopeRead}

// Webhook headers: the unix-seconds timestamp and "sha256=<hex HMAC-SHA256 of timestamp.body>".
const (
	HeaderTimestamp = "X-CXone-Timestamp"
	HeaderSignature = "X-CXone-Signature"
	EventEnded      = "screen-recording.ended"
)

// Options configure a Server. The zero value is a usable plain-HTTP simulator on 127.0.0.1.
type Options struct {
	Addr          string        // listen address; default 127.0.0.1:0
	TLS           bool          // serve HTTPS with a fresh self-signed certificate
	TenantID      string        // default "sim-tenant"
	TokenLifetime time.Duration // default 1h; <0 issues tokens already expired (tests)
	PurgeAfter    time.Duration // ended recordings answer 404 after this; default 5m, <0 at once
	MaskDelay     time.Duration // cxone-mask: a mask/unmask stays "processing" this long (202, 425)
	RateLimit     float64       // org-wide API calls per second; default 50; <0 unlimited
	RateBurst     int           // default 100
	Seed          uint64        // seeds the fault dice; 0 picks 1
	Now           func() time.Time
	Log           *slog.Logger
}

// Faults are injected into /api and mask calls (never into /sim or the token endpoint unless
// TokenToo is set). Rates are probabilities in [0,1]; Next* counters are consumed in order:
// resets, then 5xx, then 429.
type Faults struct {
	Latency    time.Duration `json:"latency,omitempty"`     // added before every API answer; dropped unapplied if the caller gives up first
	LatencyMax time.Duration `json:"latency_max,omitempty"` // if > Latency, each answer waits a uniform draw in [Latency, LatencyMax]
	ErrorRate  float64       `json:"error_rate,omitempty"`  // fraction answered 503
	ResetRate  float64       `json:"reset_rate,omitempty"`  // fraction whose connection is reset
	Next5xx    int           `json:"next_5xx,omitempty"`    // the next n calls get 503
	NextResets int           `json:"next_resets,omitempty"` // the next n calls get a reset
	Next429    int           `json:"next_429,omitempty"`    // the next n calls get 429
	RetryAfter time.Duration `json:"retry_after,omitempty"` // Retry-After of injected 429/503; default 1s
	TokenToo   bool          `json:"token_too,omitempty"`   // also fault the token endpoint
}

// Call is one request the simulator answered, in arrival order.
type Call struct {
	Time      time.Time         `json:"time"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Op        string            `json:"op"`               // token, pause, resume, get, list, mask, unmask, status
	Target    string            `json:"target,omitempty"` // recording id or user id
	Reason    string            `json:"reason,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Status    int               `json:"status"`
	ClientID  string            `json:"client_id,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Fault     string            `json:"fault,omitempty"` // latency, 5xx, reset, 429, ratelimit
}

// Interval is a span a target spent paused (wem-v1) or masked (cxone-mask). End is zero
// while it is still open.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitempty"`
}

// Delivery is one attempt to deliver the ended webhook.
type Delivery struct {
	URL         string    `json:"url"`
	RecordingID string    `json:"recording_id"`
	Status      int       `json:"status"` // 0 when the request failed
	Err         string    `json:"error,omitempty"`
	Time        time.Time `json:"time"`
}

// Recording states.
const (
	Recording = "RECORDING"
	Paused    = "PAUSED"
	Ended     = "ENDED"
)

type client struct {
	secret string
	scopes []string
}

type accessKey struct {
	secret string
	userID string
	scopes []string
}

type token struct {
	clientID string
	scopes   map[string]bool
	expires  time.Time
}

type interaction struct {
	id       string
	agent    string
	internal bool
	closed   bool
	started  time.Time
	recs     []string
	// cxone-mask state of this call
	masked       bool
	maskIv       []Interval
	pendingUntil time.Time // a mask/unmask is being applied until then
	pendingMask  bool      // the state being applied
}

type recording struct {
	id          string
	interaction string
	agent       string
	status      string
	started     time.Time
	ended       time.Time
	paused      []Interval
}

type webhookReg struct {
	url    string
	secret []byte
}

// Server is one simulated tenant. All methods are safe for concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	srv    *http.Server
	ln     net.Listener
	url    string
	cert   *x509.Certificate
	certPE []byte
	tlsCfg *tls.Config

	hookClient *http.Client // webhook deliveries; its idle connections close with the server
	beforeLog  func(Call)   // tests only: runs as each call is logged, before it is answered

	ctx    context.Context // cancelled by Close; stops webhook deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	clients      map[string]client
	keys         map[string]accessKey
	tokens       map[string]token
	agents       map[string]bool
	interactions map[string]*interaction
	recordings   map[string]*recording
	hooks        []webhookReg
	deliveries   []Delivery
	calls        []Call
	faults       Faults
	limiter      *rate.Limiter
	rng          *rand.Rand
	seq          int
}

// New builds a simulator; call Start to serve. It never fails: a TLS certificate that cannot be
// generated is reported by Start.
func New(opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.TenantID == "" {
		opts.TenantID = "sim-tenant"
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.PurgeAfter == 0 {
		opts.PurgeAfter = 5 * time.Minute
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 50
	}
	if opts.RateBurst == 0 {
		opts.RateBurst = 100
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:         opts,
		log:          log.With("component", "cxonesim"),
		now:          now,
		clients:      map[string]client{},
		keys:         map[string]accessKey{},
		tokens:       map[string]token{},
		agents:       map[string]bool{},
		interactions: map[string]*interaction{},
		recordings:   map[string]*recording{},
		rng:          rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	s.setLimiter(opts.RateLimit, opts.RateBurst)
	s.hookClient = &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Start listens on Options.Addr and serves until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("cxonesim listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	scheme := "http"
	if s.opts.TLS {
		cfg, cert, pemBytes, err := selfSigned(ln.Addr().(*net.TCPAddr).IP)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cxonesim tls: %w", err)
		}
		s.tlsCfg, s.cert, s.certPE = cfg, cert, pemBytes
		ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	s.ln = ln
	s.url = scheme + "://" + ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	return nil
}

// Close stops serving, cancels pending webhook deliveries and waits for every goroutine.
func (s *Server) Close() {
	s.cancel()
	if s.srv != nil {
		s.srv.Close()
	}
	s.wg.Wait()
	s.hookClient.CloseIdleConnections()
}

// Handler is the simulator's HTTP handler, for callers that serve it themselves.
func (s *Server) Handler() http.Handler { return s.mux }

// URL is the root URL, e.g. https://127.0.0.1:41234. It is also the discovery URL and the
// cxone-mask api_endpoint.
func (s *Server) URL() string { return s.url }

// BaseURL is the wem-v1 base, URL()+"/api/wem/v1".
func (s *Server) BaseURL() string { return s.url + "/api/wem/v1" }

// TokenURL is the OAuth2 token endpoint.
func (s *Server) TokenURL() string { return s.url + "/oauth2/token" }

// ControlURL is the root of the control API.
func (s *Server) ControlURL() string { return s.url + "/sim" }

// TenantID is the tenant the cxone-configuration document answers for.
func (s *Server) TenantID() string { return s.opts.TenantID }

// CACertPEM is the self-signed certificate in PEM (nil without TLS).
func (s *Server) CACertPEM() []byte { return s.certPE }

// Client returns an HTTP client that trusts the simulator's certificate.
func (s *Server) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.cert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(s.cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}
}

func (s *Server) setLimiter(r float64, burst int) {
	if r < 0 {
		s.limiter = rate.NewLimiter(rate.Inf, 0)
		return
	}
	s.limiter = rate.NewLimiter(rate.Limit(r), burst)
}

// SetRateLimit changes the org-wide token bucket: r calls per second with the given burst;
// r < 0 removes the limit.
func (s *Server) SetRateLimit(r float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLimiter(r, burst)
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// AddClient registers an OAuth2 client for the client-credentials (and password) grant.
// Without scopes it is granted AllScopes. Re-adding replaces it.
func (s *Server) AddClient(id, secret string, scopes ...string) {
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = client{secret: secret, scopes: append([]string(nil), scopes...)}
}

// AddAccessKey registers an API user's access key for the password grant: the token it yields
// acts as userID. Without scopes it holds PermMask.
func (s *Server) AddAccessKey(keyID, keySecret, userID string, scopes ...string) {
	if len(scopes) == 0 {
		scopes = []string{PermMask}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[keyID] = accessKey{secret: keySecret, userID: userID, scopes: append([]string(nil), scopes...)}
}

// ExpireTokens makes every issued token expired, as if its lifetime had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.expires = time.Time{}
		s.tokens[k] = t
	}
}

// RegisterWebhook adds a URL that receives screen-recording.ended, signed with secret.
func (s *Server) RegisterWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, webhookReg{url: url, secret: []byte(secret)})
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return prefix + "-" + strconv.Itoa(s.seq)
}

// AddAgent registers an agent (also a cxone-mask user id). Adding twice is harmless.
func (s *Server) AddAgent(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents[id] = true
}

// StartInteraction opens an interaction (a call) for agent, registering the agent if needed,
// and returns its id.
func (s *Server) StartInteraction(agentID string) string {
	return s.startInteraction(agentID, false)
}

// StartInternalInteraction opens an internal call, which the Mask API refuses with 422.
func (s *Server) StartInternalInteraction(agentID string) string {
	return s.startInteraction(agentID, true)
}

func (s *Server) startInteraction(agentID string, internal bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents[agentID] = true
	id := s.nextID("int")
	s.interactions[id] = &interaction{id: id, agent: agentID, internal: internal, started: s.now()}
	return id
}

// StartRecording starts a screen recording bound to the interaction and returns its id, or ""
// when the interaction is unknown or closed.
func (s *Server) StartRecording(interactionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.interactions[interactionID]
	if in == nil || in.closed {
		return ""
	}
	id := s.nextID("rec")
	s.recordings[id] = &recording{id: id, interaction: in.id, agent: in.agent, status: Recording, started: s.now()}
	in.recs = append(in.recs, id)
	return id
}

// EndRecording ends a recording (closing an open paused interval) and fires the ended
// webhook. It reports false when the recording is unknown or already ended.
func (s *Server) EndRecording(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endRecording(id)
}

func (s *Server) endRecording(id string) bool {
	r := s.recordings[id]
	if r == nil || r.status == Ended {
		return false
	}
	now := s.now()
	if r.status == Paused {
		r.paused[len(r.paused)-1].End = now
	}
	r.status = Ended
	r.ended = now
	s.fireEnded(r)
	return true
}

// EndInteraction closes an interaction and ends all its recordings and its mask.
func (s *Server) EndInteraction(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.interactions[id]
	if in == nil || in.closed {
		return false
	}
	for _, r := range in.recs {
		s.endRecording(r)
	}
	s.settleMask(in)
	if in.masked {
		in.maskIv[len(in.maskIv)-1].End = s.now()
		in.masked = false
	}
	in.closed = true
	return true
}

// RecordingStatus returns RECORDING, PAUSED or ENDED, and false when the id is unknown or
// purged.
func (s *Server) RecordingStatus(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookupRecording(id)
	if r == nil {
		return "", false
	}
	return r.status, true
}

// InteractionRecordings lists an interaction's recording ids in start order.
func (s *Server) InteractionRecordings(interactionID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.interactions[interactionID]; in != nil {
		return append([]string(nil), in.recs...)
	}
	return nil
}

// Masked reports whether the user's latest active call is masked (after any change being
// applied has settled).
func (s *Server) Masked(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.latestCall(userID)
	if in == nil {
		return false
	}
	s.settleMask(in)
	return in.masked
}

// Calls returns a copy of the call log.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	for i := range out {
		out[i].Metadata = cloneMap(out[i].Metadata)
	}
	return out
}

// ResetCalls empties the call log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Deliveries returns every webhook delivery attempt so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// PausedIntervals returns the intervals a recording spent PAUSED, or, for a user id, the
// intervals the user's calls spent masked, in time order.
func (s *Server) PausedIntervals(target string) []Interval {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.recordings[target]; r != nil {
		return append([]Interval(nil), r.paused...)
	}
	var out []Interval
	for _, in := range s.interactions {
		if in.agent == target {
			s.settleMask(in)
			out = append(out, in.maskIv...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// lookupRecording returns the recording unless unknown or purged. Caller holds mu.
func (s *Server) lookupRecording(id string) *recording {
	r := s.recordings[id]
	if r == nil {
		return nil
	}
	if r.status == Ended && (s.opts.PurgeAfter < 0 || !s.now().Before(r.ended.Add(s.opts.PurgeAfter))) {
		return nil
	}
	return r
}

// latestCall is the user's most recently started open interaction. Caller holds mu.
func (s *Server) latestCall(userID string) *interaction {
	var best *interaction
	for _, in := range s.interactions {
		if in.agent != userID || in.closed {
			continue
		}
		if best == nil || in.started.After(best.started) || (in.started.Equal(best.started) && idLess(best.id, in.id)) {
			best = in
		}
	}
	return best
}

// idLess orders "int-9" before "int-10".
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// settleMask applies a pending mask change whose delay has passed. Caller holds mu.
func (s *Server) settleMask(in *interaction) {
	if in.pendingUntil.IsZero() || s.now().Before(in.pendingUntil) {
		return
	}
	s.applyMask(in, in.pendingMask, in.pendingUntil)
	in.pendingUntil = time.Time{}
}

func (s *Server) applyMask(in *interaction, mask bool, at time.Time) {
	if mask == in.masked {
		return
	}
	in.masked = mask
	if mask {
		in.maskIv = append(in.maskIv, Interval{Start: at})
	} else {
		in.maskIv[len(in.maskIv)-1].End = at
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Demo is a seeded tenant: one OAuth2 client with every wem-v1 scope, one access key for the
// password grant acting as the agent, and the agent's one active interaction with one
// recording.
type Demo struct {
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	AgentID         string `json:"agent_id"`
	InteractionID   string `json:"interaction_id"`
	RecordingID     string `json:"recording_id"`
}

// SeedDemo creates the demo tenant with fresh random secrets.
func (s *Server) SeedDemo() Demo {
	d := Demo{ClientID: "pcipause-demo", ClientSecret: randHex(16), AccessKeyID: "demo-access-key",
		AccessKeySecret: randHex(16), AgentID: "agent-1001"}
	s.AddClient(d.ClientID, d.ClientSecret)
	s.AddAccessKey(d.AccessKeyID, d.AccessKeySecret, d.AgentID)
	d.InteractionID = s.StartInteraction(d.AgentID)
	d.RecordingID = s.StartRecording(d.InteractionID)
	return d
}

func randHex(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}
