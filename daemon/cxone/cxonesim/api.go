package cxonesim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paths served besides the control API.
const (
	wemPrefix     = "/api/wem/v1"
	maskPrefix    = "/interaction-recording-management-service/v1/interactions"
	tokenPath     = "/oauth2/token"
	oidcPath      = "/.well-known/openid-configuration"
	cxoneConfPath = "/.well-known/cxone-configuration"
	maxBody       = 64 << 10
	timeLayout    = "2006-01-02T15:04:05.000Z" // the guide's RFC 3339 UTC with milliseconds
)

// errorBody is every JSON error the simulator answers.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// RecordingJSON is the wem-v1 recording resource: GET …/screen-recordings/{id} answers one, the
// list answers {"recordings":[…]}, pause and resume answer the updated one.
type RecordingJSON struct {
	ID            string `json:"id"`
	AgentID       string `json:"agentId"`
	InteractionID string `json:"interactionId"`
	Status        string `json:"status"`
	StartedAt     string `json:"startedAt"`
	EndedAt       string `json:"endedAt,omitempty"`
}

// MaskStatusJSON is the cxone-mask get-recording-status answer.
type MaskStatusJSON struct {
	UserID          string `json:"userId"`
	ContactID       string `json:"contactId"`
	RecordingStatus string `json:"recordingStatus"` // Recording or NotRecording
	StatusReason    string `json:"statusReason"`    // "Mask" while masked, else ""
	Processing      bool   `json:"processing"`      // a mask/unmask is still being applied
}

type apiResult struct {
	status int
	body   any
	header http.Header
}

func result(status int, body any) apiResult { return apiResult{status: status, body: body} }

func fail(status int, code, format string, args ...any) apiResult {
	return apiResult{status: status, body: errorBody{Error: code, Message: fmt.Sprintf(format, args...)}}
}

type apiFunc func(r *http.Request, c *Call, tok token) apiResult

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST "+tokenPath, s.handleToken)
	m.HandleFunc("GET "+oidcPath, s.handleOIDC)
	m.HandleFunc("GET "+cxoneConfPath, s.handleCXoneConf)

	m.Handle("GET "+wemPrefix+"/screen-recordings", s.api("list", ScopeRead, s.wemList))
	m.Handle("GET "+wemPrefix+"/screen-recordings/{id}", s.api("get", ScopeRead, s.wemGet))
	m.Handle("PUT "+wemPrefix+"/screen-recordings/{id}/pause", s.api("pause", ScopePause, s.wemPause))
	m.Handle("PUT "+wemPrefix+"/screen-recordings/{id}/resume", s.api("resume", ScopeControl, s.wemResume))

	m.Handle("POST "+maskPrefix+"/mask", s.api("mask", PermMask, s.maskChange(true)))
	m.Handle("POST "+maskPrefix+"/unmask", s.api("unmask", PermMask, s.maskChange(false)))
	m.Handle("GET "+maskPrefix+"/get-recording-status", s.api("status", PermMask, s.maskStatus))

	s.controlRoutes()
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		json.NewEncoder(w).Encode(body)
	}
}

// logCall appends to the call log and logs the call at debug level. Bodies are never logged;
// reason and metadata only reach the log after validation refused any digit run.
func (s *Server) logCall(c Call) {
	if s.beforeLog != nil {
		s.beforeLog(c)
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	s.log.Debug("call", "op", c.Op, "method", c.Method, "target", c.Target, "status", c.Status,
		"request_id", c.RequestID, "client_id", c.ClientID, "fault", c.Fault)
}

// served is a call being answered. Its entry reaches the call log before the caller can see
// anything of the answer (a status line, a reset, a hang-up), so a caller that has its answer
// always finds the call in Calls(). log is idempotent: handlers call it just before they answer
// and defer it for the paths that end otherwise (a panic that aborts the connection).
type served struct {
	s    *Server
	c    Call
	done bool
}

func (sv *served) log() {
	if !sv.done {
		sv.done = true
		sv.s.logCall(sv.c)
	}
}

// answer logs the call, then writes the JSON answer.
func (sv *served) answer(w http.ResponseWriter, status int, body any) {
	sv.c.Status = status
	sv.log()
	writeJSON(w, status, body)
}

// injectFault applies the configured faults. It reports whether the request was answered.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, sv *served) bool {
	c := &sv.c
	s.mu.Lock()
	f := s.faults
	reset, fiveXX, four29 := false, false, false
	switch {
	case s.faults.NextResets > 0:
		s.faults.NextResets--
		reset = true
	case s.faults.Next5xx > 0:
		s.faults.Next5xx--
		fiveXX = true
	case s.faults.Next429 > 0:
		s.faults.Next429--
		four29 = true
	default:
		reset = f.ResetRate > 0 && s.rng.Float64() < f.ResetRate
		fiveXX = !reset && f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate
	}
	lat := f.Latency
	if f.LatencyMax > f.Latency {
		lat += time.Duration(s.rng.Int64N(int64(f.LatencyMax - f.Latency + 1)))
	}
	s.mu.Unlock()

	if lat > 0 {
		c.Fault = "latency"
		t := time.NewTimer(lat)
		gone := false
		select {
		case <-t.C:
		case <-r.Context().Done():
			gone = true
		case <-s.ctx.Done():
			gone = true
		}
		t.Stop()
		if gone {
			// The caller gave up (or the simulator is closing) while the answer was delayed:
			// the request is dropped unapplied, as if lost on a slow network. Applying it and
			// writing an answer would race the client's own timeout, and a timed-out client
			// could then read a success it had already abandoned.
			// Nor may it be answered at all: a handler that just returns gets an empty 200
			// from net/http, which a client whose timeout fired just as the server noticed
			// its hang-up can still read, and take for an applied call. The abort closes
			// the connection unanswered (the deferred call log still runs).
			c.Fault, c.Status = "latency-abandoned", 0
			panic(http.ErrAbortHandler)
		}
	}
	retry := f.RetryAfter
	if retry <= 0 {
		retry = time.Second
	}
	switch {
	case reset:
		c.Fault, c.Status = "reset", 0
		resetConn(w, sv)
		return true
	case fiveXX:
		c.Fault = "5xx"
		w.Header().Set("Retry-After", seconds(retry))
		sv.answer(w, http.StatusServiceUnavailable, errorBody{Error: "service_unavailable", Message: "injected fault"})
		return true
	case four29:
		c.Fault = "429"
		w.Header().Set("Retry-After", seconds(retry))
		sv.answer(w, http.StatusTooManyRequests, errorBody{Error: "too_many_requests", Message: "injected 429 burst"})
		return true
	}
	return false
}

// resetConn drops the connection with a TCP RST, the way a crashing proxy would, once the call
// is logged. The server speaks only HTTP/1.1, so hijacking works; should it ever fail, a 502
// stands in.
func resetConn(w http.ResponseWriter, sv *served) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		sv.answer(w, http.StatusBadGateway, errorBody{Error: "bad_gateway", Message: "injected reset (connection could not be hijacked)"})
		return
	}
	sv.log()
	nc := conn
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// api wraps an API handler with the call log, faults, bearer auth, the org-wide rate limit and
// the scope check, in that order.
func (s *Server) api(op, scope string, h apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sv := &served{s: s, c: Call{Time: s.now(), Method: r.Method, Path: r.URL.RequestURI(), Op: op,
			Target: r.PathValue("id"), RequestID: r.Header.Get("X-Request-Id")}}
		c := &sv.c
		if c.Target == "" {
			c.Target = r.URL.Query().Get("userId")
		}
		if c.Target == "" {
			c.Target = r.URL.Query().Get("agentId")
		}
		defer sv.log()
		// Read the body first (bounded; a larger one still reaches the handler as too large):
		// only once it is consumed does the server notice a client that hangs up, which the
		// injected latency relies on to drop abandoned calls.
		if r.Body != nil && r.Body != http.NoBody {
			raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			r.Body = io.NopCloser(bytes.NewReader(raw))
		}
		if s.injectFault(w, r, sv) {
			return
		}
		res := s.authorize(r, c, scope, h)
		for k, v := range res.header {
			w.Header()[k] = v
		}
		sv.answer(w, res.status, res.body)
	})
}

func (s *Server) authorize(r *http.Request, c *Call, scope string, h apiFunc) apiResult {
	auth := r.Header.Get("Authorization")
	bearer, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || bearer == "" {
		res := fail(http.StatusUnauthorized, "unauthorized", "missing bearer token")
		res.header = http.Header{"Www-Authenticate": {`Bearer realm="cxone"`}}
		return res
	}
	s.mu.Lock()
	tok, known := s.tokens[bearer]
	expired := known && !s.now().Before(tok.expires)
	limited := false
	var wait time.Duration
	if known && !expired {
		rv := s.limiter.ReserveN(s.now(), 1)
		if d := rv.DelayFrom(s.now()); !rv.OK() || d > 0 {
			rv.CancelAt(s.now())
			limited, wait = true, d
		}
	}
	s.mu.Unlock()
	c.ClientID = tok.clientID
	switch {
	case !known:
		res := fail(http.StatusUnauthorized, "invalid_token", "unknown bearer token")
		res.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
		return res
	case expired:
		res := fail(http.StatusUnauthorized, "invalid_token", "token expired")
		res.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="expired"`}}
		return res
	case limited:
		if wait < time.Second {
			wait = time.Second
		}
		c.Fault = "ratelimit"
		res := fail(http.StatusTooManyRequests, "too_many_requests", "organization rate limit exceeded")
		res.header = http.Header{"Retry-After": {seconds(wait)}}
		return res
	case !tok.scopes[scope]:
		return fail(http.StatusForbidden, "insufficient_scope", "token lacks %s", scope)
	}
	return h(r, c, tok)
}

// --- token endpoint and discovery ---

type tokenJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	sv := &served{s: s, c: Call{Time: s.now(), Method: r.Method, Path: r.URL.Path, Op: "token", RequestID: r.Header.Get("X-Request-Id")}}
	defer sv.log()
	s.mu.Lock()
	tokenFaults := s.faults.TokenToo
	s.mu.Unlock()
	if tokenFaults && s.injectFault(w, r, sv) {
		return
	}
	status, body, hdr := s.issueToken(r, &sv.c)
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.Header().Set("Cache-Control", "no-store")
	sv.answer(w, status, body)
}

// oauthError is RFC 6749's error shape (error, error_description).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (s *Server) issueToken(r *http.Request, c *Call) (int, any, http.Header) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return http.StatusBadRequest, oauthError{"invalid_request", "Content-Type must be application/x-www-form-urlencoded"}, nil
	}
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, oauthError{"invalid_request", "form does not parse"}, nil
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c.ClientID = id
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(cl.secret), []byte(secret)) != 1 {
		return http.StatusUnauthorized, oauthError{"invalid_client", "client authentication failed"},
			http.Header{"Www-Authenticate": {`Basic realm="cxone"`}}
	}
	var granted []string
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		granted = cl.scopes
		if req := strings.Fields(r.PostForm.Get("scope")); len(req) > 0 {
			granted = nil
			for _, sc := range req {
				if slices.Contains(cl.scopes, sc) {
					granted = append(granted, sc)
				}
			}
			if len(granted) == 0 {
				return http.StatusBadRequest, oauthError{"invalid_scope", "none of the requested scopes is granted to this client"}, nil
			}
		}
	case "password":
		k, ok := s.keys[r.PostForm.Get("username")]
		if !ok || subtle.ConstantTimeCompare([]byte(k.secret), []byte(r.PostForm.Get("password"))) != 1 {
			return http.StatusBadRequest, oauthError{"invalid_grant", "access key id or secret rejected"}, nil
		}
		granted = k.scopes
	case "":
		return http.StatusBadRequest, oauthError{"invalid_request", "grant_type missing"}, nil
	default:
		return http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type " + strconv.Quote(gt) + " not supported"}, nil
	}
	var raw [24]byte
	rand.Read(raw[:])
	access := hex.EncodeToString(raw[:])
	t := token{clientID: id, scopes: map[string]bool{}, expires: s.now().Add(s.opts.TokenLifetime)}
	for _, sc := range granted {
		t.scopes[sc] = true
	}
	s.tokens[access] = t
	return http.StatusOK, tokenJSON{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int(s.opts.TokenLifetime / time.Second), Scope: strings.Join(granted, " ")}, nil
}

func (s *Server) handleOIDC(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                s.url,
		"token_endpoint":        s.TokenURL(),
		"grant_types_supported": []string{"client_credentials", "password"},
	})
}

func (s *Server) handleCXoneConf(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenantId")
	if tenant == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{"bad_request", "tenantId query parameter missing"})
		return
	}
	if tenant != s.opts.TenantID {
		writeJSON(w, http.StatusNotFound, errorBody{"not_found", "unknown tenant"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"tenantId": tenant, "api_endpoint": s.url, "area": "sim"})
}

// --- wem-v1 ---

func (s *Server) recJSON(r *recording) RecordingJSON {
	j := RecordingJSON{ID: r.id, AgentID: r.agent, InteractionID: r.interaction, Status: r.status,
		StartedAt: r.started.UTC().Format(timeLayout)}
	if !r.ended.IsZero() {
		j.EndedAt = r.ended.UTC().Format(timeLayout)
	}
	return j
}

func (s *Server) wemGet(r *http.Request, c *Call, _ token) apiResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupRecording(r.PathValue("id"))
	if rec == nil {
		return fail(http.StatusNotFound, "not_found", "screen recording not found")
	}
	return result(http.StatusOK, s.recJSON(rec))
}

func (s *Server) wemList(r *http.Request, c *Call, _ token) apiResult {
	q := r.URL.Query()
	for k := range q {
		if k != "agentId" && k != "status" {
			return fail(http.StatusBadRequest, "bad_request", "unknown query parameter %q", k)
		}
	}
	agent := q.Get("agentId")
	if agent == "" {
		return fail(http.StatusBadRequest, "bad_request", "agentId query parameter missing")
	}
	status := q.Get("status")
	if status != "" && status != Recording && status != Paused && status != Ended {
		return fail(http.StatusBadRequest, "bad_request", "status must be RECORDING, PAUSED or ENDED")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []RecordingJSON{}
	for id := range s.recordings {
		rec := s.lookupRecording(id)
		if rec == nil || rec.agent != agent || (status != "" && rec.status != status) {
			continue
		}
		list = append(list, s.recJSON(rec))
	}
	slices.SortFunc(list, func(a, b RecordingJSON) int {
		if idLess(a.ID, b.ID) {
			return -1
		}
		if a.ID == b.ID {
			return 0
		}
		return 1
	})
	return result(http.StatusOK, map[string]any{"recordings": list})
}

type pauseBody struct {
	Reason   string `json:"reason"`
	Metadata *struct {
		PCIField           string `json:"pciField,omitempty"`
		DetectionTimestamp string `json:"detectionTimestamp,omitempty"`
		ComplianceRule     string `json:"complianceRule,omitempty"`
		ClearTimestamp     string `json:"clearTimestamp,omitempty"`
	} `json:"metadata"`
}

var (
	reasonRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
	digitRunRE = regexp.MustCompile(`[0-9][0-9 -]{11,}[0-9]`)
)

// decodeChange decodes a pause or resume body as strictly as the guide shows it.
func decodeChange(r *http.Request, op string, c *Call) (pauseBody, error) {
	var b pauseBody
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return b, errors.New("Content-Type must be application/json")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return b, errors.New("body could not be read")
	}
	if len(raw) > maxBody {
		return b, errors.New("body too large")
	}
	if loc := digitRunRE.FindIndex(raw); loc != nil {
		// Never echo or log it: this looks like card data, which must never reach the API.
		return b, errors.New("body contains a long digit run that could be card data")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		// The decoder quotes parts of the body (an unknown field's name): never echo digits.
		return b, fmt.Errorf("malformed JSON: %s", noDigits(err.Error()))
	}
	if dec.More() {
		return b, errors.New("malformed JSON: trailing data")
	}
	c.Reason = b.Reason
	if !reasonRE.MatchString(b.Reason) {
		return b, errors.New("reason must be an upper-case code such as PCI_DATA_DETECTED")
	}
	if b.Metadata == nil {
		return b, errors.New("metadata missing")
	}
	md := b.Metadata
	c.Metadata = map[string]string{}
	for k, v := range map[string]string{"pciField": md.PCIField, "detectionTimestamp": md.DetectionTimestamp,
		"complianceRule": md.ComplianceRule, "clearTimestamp": md.ClearTimestamp} {
		if v != "" {
			c.Metadata[k] = v
		}
	}
	checkTS := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("metadata.%s missing", name)
		}
		if t, err := time.Parse(timeLayout, v); err != nil || t.Format(timeLayout) != v {
			return fmt.Errorf("metadata.%s must be RFC 3339 UTC with milliseconds, e.g. 2023-10-27T14:32:01.123Z", name)
		}
		return nil
	}
	if op == "pause" {
		if md.ClearTimestamp != "" {
			return b, errors.New("metadata.clearTimestamp belongs to resume")
		}
		return b, checkTS("detectionTimestamp", md.DetectionTimestamp)
	}
	if md.PCIField != "" || md.DetectionTimestamp != "" || md.ComplianceRule != "" {
		return b, errors.New("resume metadata takes only clearTimestamp")
	}
	return b, checkTS("clearTimestamp", md.ClearTimestamp)
}

func (s *Server) wemChange(op string) apiFunc {
	from, to := Recording, Paused
	if op == "resume" {
		from, to = Paused, Recording
	}
	return func(r *http.Request, c *Call, _ token) apiResult {
		if _, err := decodeChange(r, op, c); err != nil {
			if strings.HasPrefix(err.Error(), "Content-Type") {
				return fail(http.StatusUnsupportedMediaType, "unsupported_media_type", "%s", err)
			}
			return fail(http.StatusBadRequest, "bad_request", "%s", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.lookupRecording(r.PathValue("id"))
		if rec == nil {
			return fail(http.StatusNotFound, "not_found", "screen recording not found")
		}
		if rec.status != from {
			return fail(http.StatusConflict, "conflict", "recording is %s, not %s", rec.status, from)
		}
		now := s.now()
		rec.status = to
		if to == Paused {
			rec.paused = append(rec.paused, Interval{Start: now})
		} else {
			rec.paused[len(rec.paused)-1].End = now
		}
		return result(http.StatusOK, s.recJSON(rec))
	}
}

func (s *Server) wemPause(r *http.Request, c *Call, t token) apiResult {
	return s.wemChange("pause")(r, c, t)
}

func (s *Server) wemResume(r *http.Request, c *Call, t token) apiResult {
	return s.wemChange("resume")(r, c, t)
}

// --- cxone-mask ---

func userParam(r *http.Request) (string, apiResult, bool) {
	q := r.URL.Query()
	for k := range q {
		if k != "userId" {
			return "", fail(http.StatusBadRequest, "bad_request", "unknown query parameter %q", k), false
		}
	}
	u := q.Get("userId")
	if u == "" {
		return "", fail(http.StatusBadRequest, "bad_request", "userId query parameter missing"), false
	}
	return u, apiResult{}, true
}

func (s *Server) maskChange(mask bool) apiFunc {
	return func(r *http.Request, c *Call, _ token) apiResult {
		user, res, ok := userParam(r)
		if !ok {
			return res
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		in := s.latestCall(user)
		if in == nil {
			return fail(http.StatusNotFound, "not_found", "no active interaction for the user")
		}
		if in.internal {
			return fail(http.StatusUnprocessableEntity, "unprocessable", "operation not supported for internal calls")
		}
		s.settleMask(in)
		if !in.pendingUntil.IsZero() {
			return fail(http.StatusTooEarly, "locked", "interaction locked while a previous mask/unmask is processed")
		}
		if s.opts.MaskDelay > 0 {
			in.pendingMask = mask
			in.pendingUntil = s.now().Add(s.opts.MaskDelay)
			return result(http.StatusAccepted, map[string]string{"status": "processing"})
		}
		s.applyMask(in, mask, s.now())
		return result(http.StatusOK, map[string]string{"status": "done"})
	}
}

func (s *Server) maskStatus(r *http.Request, c *Call, _ token) apiResult {
	user, res, ok := userParam(r)
	if !ok {
		return res
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.latestCall(user)
	if in == nil {
		return fail(http.StatusNotFound, "not_found", "no active interaction for the user")
	}
	s.settleMask(in)
	j := MaskStatusJSON{UserID: user, ContactID: in.id, RecordingStatus: "NotRecording", Processing: !in.pendingUntil.IsZero()}
	for _, id := range in.recs {
		if rec := s.recordings[id]; rec != nil && rec.status != Ended {
			j.RecordingStatus = "Recording"
		}
	}
	if in.masked {
		j.StatusReason = "Mask"
	}
	return result(http.StatusOK, j)
}

// noDigits replaces every digit in s with '#', for error texts that quote a caller's body.
func noDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}
