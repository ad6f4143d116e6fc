// Package controller is the pause controller: it turns PCI windows reported by the session
// helpers into CXone pause and resume calls, level-triggered in the style of a Kubernetes
// controller. For each agent the desired state of every in-scope target is PAUSED while any
// PCI window is open or its hold-down runs, else RECORDING; workers compare that with the last
// known state and make the smallest set of calls. Every intent is committed to the state file
// before the first call it causes, so a crash or reboot resumes the work, and every trigger,
// call and outcome goes to the hash-chained audit trail.
package controller

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"pcipause/daemon/audit"
	"pcipause/daemon/cxone"
	"pcipause/daemon/store"
)

// Pause reasons (the guide's reason field).
const (
	ReasonPCIDetected      = "PCI_DATA_DETECTED"
	ReasonMaskingAgentDown = "MASKING_AGENT_DOWN"
	ReasonPCICleared       = "PCI_DATA_CLEARED"
)

// Sentinel errors.
var (
	ErrUnknownEpisode = errors.New("no such open PCI episode")
	ErrBadInput       = errors.New("bad input")
)

// Config tunes the controller. Zero fields take the defaults below.
type Config struct {
	Rate               float64       // calls per second over all CXone calls (default 10)
	Burst              int           // token bucket size (default 10)
	HoldDown           time.Duration // wait after the last window closes before resuming (500ms)
	RefreshInterval    time.Duration // a target list older than this is re-read at trigger time (5s)
	PollInterval       time.Duration // re-list agents with known targets while idle (60s)
	PollIntervalPaused time.Duration // re-list/re-read while anything is paused or pending (1s)
	BaseBackoff        time.Duration // first retry delay after a failure (200ms)
	MaxBackoff         time.Duration // cap of the exponential backoff (30s)
	CallTimeout        time.Duration // one CXone call (10s)
	Workers            int           // agents reconciled in parallel (16)
	// Seed makes the jitter reproducible in tests; 0 seeds from the clock.
	Seed uint64
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Burst <= 0 {
		c.Burst = 10
	}
	def(&c.HoldDown, 500*time.Millisecond)
	def(&c.RefreshInterval, 5*time.Second)
	def(&c.PollInterval, 60*time.Second)
	def(&c.PollIntervalPaused, time.Second)
	def(&c.BaseBackoff, 200*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	def(&c.CallTimeout, 10*time.Second)
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return c
}

// Open reports that a PCI window opened.
type Open struct {
	AgentID       string
	InteractionID string // optional: the helper rarely knows it
	Episode       string // unique per window per helper
	Field         string // field name, e.g. credit_card_number — never its value
	Rule          string // compliance rule, e.g. PCI-DSS-Req-3.4
	Kind          string // detector kind: field-rule, digit-run, paste, helper-down
	Reason        string // ReasonPCIDetected or ReasonMaskingAgentDown
	At            time.Time
}

// Close reports that a PCI window closed.
type Close struct {
	AgentID string
	Episode string
	At      time.Time
	Reason  string // why it closed: cleared, left-empty, window-closed, helper-restarted…
}

// Window is one open PCI window in a Snapshot. It never holds what was typed.
type Window struct {
	AgentID       string    `json:"agent_id"`
	InteractionID string    `json:"interaction_id,omitempty"`
	Episode       string    `json:"episode"`
	Field         string    `json:"field,omitempty"`
	Reason        string    `json:"reason"`
	Since         time.Time `json:"since"`
}

// TargetState is one known target in a Snapshot.
type TargetState struct {
	Target     cxone.Target `json:"target"`
	Known      cxone.Status `json:"known,omitempty"`
	PausedByUs bool         `json:"paused_by_us"`
	Pending    bool         `json:"pending,omitempty"`
}

// LimiterState describes the token bucket.
type LimiterState struct {
	Rate         float64   `json:"rate"`
	Burst        int       `json:"burst"`
	Tokens       float64   `json:"tokens"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"` // org-wide 429 Retry-After
}

// Snapshot is the controller's state for status displays.
type Snapshot struct {
	Windows     []Window      `json:"windows"`
	Targets     []TargetState `json:"targets"`
	Paused      int           `json:"paused"`      // targets paused by us
	QueueDepth  int           `json:"queue_depth"` // agents with work due now
	Limiter     LimiterState  `json:"limiter"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	Degraded    bool          `json:"degraded"` // a window is open but not every target is paused yet
}

type prio int

const (
	prioLow prio = iota
	prioPause
)

type agentState struct {
	id        string
	episodes  map[string]store.Episode // open windows
	lastClose time.Time
	// opening counts Open calls between taking the lock and their window joining episodes
	// (the state-file commit in between can take a while); a resume must wait for them.
	opening   int
	listedAt  time.Time
	listed    []string // target keys from the last listing
	vanished  []string // targets we paused that the last listing did not show
	due       time.Time
	running   bool
	again     bool
	converged bool // every in-scope target paused (when windows are open)
	attempt   int
	runPrio   prio
	poll      bool            // the next step is a poll: list even if the listing is fresh
	intent    bool            // an intent record exists in the store
	ambiguous map[string]bool // episodes already audited as ambiguous
	noTargets map[string]bool // episodes already audited as having nothing to pause
}

// Controller is the pause controller. Create with New, drive with Run.
type Controller struct {
	st   *store.Store
	be   cxone.Backend
	cfg  Config
	log  *slog.Logger
	lim  *rate.Limiter
	mu   sync.Mutex
	rnd  *rand.Rand
	ags  map[string]*agentState
	tgs  map[string]*store.Target
	chg  chan struct{} // closed and replaced on every change the workers should see
	bu   time.Time     // blocked until (429)
	lerr string
	lat  time.Time
	idle int      // workers waiting in next
	key  [32]byte // keys episodeKey; random per process
}

// New builds a controller over an open store and back end, loading whatever work the state
// file holds (PCI windows still open, targets paused by us) so Run finishes it.
func New(st *store.Store, be cxone.Backend, cfg Config, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	c := &Controller{
		st:  st,
		be:  be,
		cfg: cfg,
		log: log.With("component", "controller"),
		lim: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst),
		rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		ags: map[string]*agentState{},
		tgs: map[string]*store.Target{},
		chg: make(chan struct{}),
	}
	crand.Read(c.key[:])
	if err := c.load(); err != nil {
		c.fault("load state", err)
	}
	return c
}

func (c *Controller) agentLocked(id string) *agentState {
	a := c.ags[id]
	if a == nil {
		a = &agentState{id: id, episodes: map[string]store.Episode{}, ambiguous: map[string]bool{}, noTargets: map[string]bool{}}
		c.ags[id] = a
	}
	return a
}

func (c *Controller) load() error {
	var eps []store.Episode
	var tgs []store.Target
	var ags []store.Agent
	var ins []store.Intent
	err := c.st.View(func(tx *store.Tx) error {
		var err error
		if eps, err = tx.Episodes(); err != nil {
			return err
		}
		if tgs, err = tx.Targets(); err != nil {
			return err
		}
		if ags, err = tx.Agents(); err != nil {
			return err
		}
		ins, err = tx.Intents()
		return err
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	now := time.Now()
	for _, ag := range ags {
		a := c.agentLocked(ag.AgentID)
		a.lastClose = ag.LastCloseAt
		// A listing from before the restart is not trusted: re-read at the first trigger.
	}
	for _, e := range eps {
		if e.Open() {
			c.agentLocked(e.AgentID).episodes[e.Episode] = e
		}
	}
	paused := 0
	for i := range tgs {
		t := tgs[i]
		if t.Ended || t.Target.ID == "" || t.Target.AgentID == "" {
			continue
		}
		// A call may have been in flight when the process died (a resume sent, its answer
		// never committed), so what the file says about the back end is not trusted: the
		// next step reads or re-sends before it skips anything.
		t.Known = ""
		c.tgs[t.Target.String()] = &t
		a := c.agentLocked(t.Target.AgentID)
		a.listed = append(a.listed, t.Target.String())
		if t.PausedByUs {
			paused++
		}
	}
	for _, in := range ins {
		c.agentLocked(in.AgentID).intent = true
	}
	work := 0
	for _, a := range c.ags {
		a.due = now
		if len(a.episodes) > 0 {
			work++
		}
	}
	c.mu.Unlock()
	if work > 0 || paused > 0 || len(ins) > 0 {
		c.log.Info("recovered work from the state file", "open_windows_agents", work, "targets_paused", paused, "intents", len(ins))
		c.auditAsync(audit.Record{Type: audit.TypeRecovery, Op: "load",
			Detail: fmt.Sprintf("agents with open windows: %d, targets paused by us: %d, pending intents: %d", work, paused, len(ins))})
	}
	return nil
}

// Changed returns a channel that is closed at the controller's next change: an event, or a
// step of work finished. It is the cue to take a new Snapshot; an idle controller never
// closes it.
func (c *Controller) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chg
}

func (c *Controller) signalLocked() {
	close(c.chg)
	c.chg = make(chan struct{})
}

// triggerLocked makes agent a due now. A trigger is not a poll: the listing is renewed only
// when it is older than the refresh interval (or a target needs it), so an episode that
// follows a resume does not list again before pausing.
func (c *Controller) triggerLocked(a *agentState) {
	a.converged = false
	a.attempt = 0
	a.poll = false
	if a.running {
		a.again = true
	}
	a.due = time.Now()
	c.signalLocked()
}

func checkID(what, v string) error {
	if v == "" {
		return fmt.Errorf("%w: %s is empty", ErrBadInput, what)
	}
	if len(v) > 256 {
		return fmt.Errorf("%w: %s is %d bytes (max 256)", ErrBadInput, what, len(v))
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s holds a control character", ErrBadInput, what)
		}
	}
	return nil
}

// Open records a PCI window. The window and the pause intent are committed to the state file
// before Open returns; the calls follow asynchronously. If the commit fails the window is still
// acted on (fail closed) and the error is returned so the caller keeps the mask up.
func (c *Controller) Open(ctx context.Context, o Open) error {
	if holdsPAN(o.AgentID) {
		return fmt.Errorf("pci open: %w: agent id looks like card data", ErrBadInput)
	}
	o.Episode = c.episodeKey(o.Episode)
	droppedInteraction := false
	if holdsPAN(o.InteractionID) {
		o.InteractionID, droppedInteraction = "", true
	}
	o.Field, o.Rule, o.Kind, o.Reason = scrubText(o.Field), scrubText(o.Rule), scrubText(o.Kind), scrubText(o.Reason)
	for _, f := range []struct{ n, v string }{{"agent id", o.AgentID}, {"episode", o.Episode}} {
		if err := checkID(f.n, f.v); err != nil {
			return fmt.Errorf("pci open: %w", err)
		}
	}
	if o.InteractionID != "" {
		if err := checkID("interaction id", o.InteractionID); err != nil {
			return fmt.Errorf("pci open: %w", err)
		}
	}
	if !reasonCode(o.Reason) {
		// CXone takes an upper-case code; anything else would be refused and the pause lost.
		o.Reason = ReasonPCIDetected
	}
	if o.At.IsZero() {
		o.At = time.Now()
	}
	ep := store.Episode{AgentID: o.AgentID, Episode: o.Episode, InteractionID: o.InteractionID,
		Field: o.Field, Rule: o.Rule, Kind: o.Kind, Reason: o.Reason, OpenedAt: o.At.UTC()}

	// Nothing is acted on until the window is committed: the intent is durable before the
	// first call it causes. With a fresh listing the targets are known now and are marked in
	// the same commit, so the worker can call at once and a crash after the call still knows
	// to resume them.
	c.mu.Lock()
	a := c.agentLocked(o.AgentID)
	_, reopen := a.episodes[o.Episode]
	var marked []store.Target
	saved := a.episodes
	a.episodes = map[string]store.Episode{o.Episode: ep}
	for k, v := range saved {
		a.episodes[k] = v
	}
	if !a.listedAt.IsZero() && time.Since(a.listedAt) < c.cfg.RefreshInterval && !c.needListLocked(a) {
		for _, k := range c.scopeLocked(a) {
			t := *c.tgs[k]
			if t.PausedByUs && t.Desired == cxone.StatusPaused {
				continue
			}
			t.Desired, t.PausedByUs, t.Updated = cxone.StatusPaused, true, time.Now()
			marked = append(marked, t)
		}
	}
	a.episodes = saved
	a.opening++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		a := c.agentLocked(o.AgentID)
		a.opening--
		a.episodes[o.Episode] = ep
		for _, t := range marked {
			if cur := c.tgs[t.Target.String()]; cur != nil {
				cur.Desired, cur.PausedByUs, cur.Updated = t.Desired, t.PausedByUs, t.Updated
			}
		}
		a.intent = true
		c.triggerLocked(a)
		c.mu.Unlock()
	}()

	err := c.st.Commit(func(tx *store.Tx) error {
		if err := tx.PutEpisode(ep); err != nil {
			return err
		}
		if err := tx.PutIntent(store.Intent{AgentID: o.AgentID, Desired: cxone.StatusPaused, Since: ep.OpenedAt}); err != nil {
			return err
		}
		for _, t := range marked {
			if err := tx.PutTarget(t); err != nil {
				return err
			}
		}
		if o.InteractionID != "" {
			if err := tx.PutInteraction(store.Interaction{ID: o.InteractionID, AgentID: o.AgentID, PCIOpen: true,
				Since: ep.OpenedAt, Desired: cxone.StatusPaused}); err != nil {
				return err
			}
		}
		detail := ""
		if reopen {
			detail = "episode re-reported while open"
		}
		if droppedInteraction {
			detail += "interaction id looked like card data and was dropped; treated as unknown"
		}
		return tx.Audit(audit.Record{Type: audit.TypePCIOpen, Agent: o.AgentID, Interaction: o.InteractionID,
			Episode: o.Episode, Field: o.Field, Rule: o.Rule, Kind: o.Kind, Reason: o.Reason, Detail: detail,
			Meta: map[string]string{"detectionTimestamp": stamp(ep.OpenedAt)}})
	})
	if err != nil {
		c.fault("persist pci open", err)
		return fmt.Errorf("pci open: %w", err)
	}
	return nil
}

// Close records that a PCI window closed; the agent's recordings resume once no window is open
// and the hold-down has passed.
func (c *Controller) Close(ctx context.Context, cl Close) error {
	if holdsPAN(cl.AgentID) {
		return fmt.Errorf("pci close: %w: agent id looks like card data", ErrBadInput)
	}
	cl.Episode = c.episodeKey(cl.Episode)
	cl.Reason = scrubText(cl.Reason)
	for _, f := range []struct{ n, v string }{{"agent id", cl.AgentID}, {"episode", cl.Episode}} {
		if err := checkID(f.n, f.v); err != nil {
			return fmt.Errorf("pci close: %w", err)
		}
	}
	if cl.At.IsZero() {
		cl.At = time.Now()
	}
	c.mu.Lock()
	a := c.ags[cl.AgentID]
	var ep store.Episode
	ok := false
	if a != nil {
		ep, ok = a.episodes[cl.Episode]
	}
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("pci close: agent %q episode %q: %w", cl.AgentID, cl.Episode, ErrUnknownEpisode)
	}
	delete(a.episodes, cl.Episode)
	delete(a.ambiguous, cl.Episode)
	delete(a.noTargets, cl.Episode)
	// The hold-down counts from when we learnt of the close, so a late report still waits.
	a.lastClose = time.Now()
	stillOpen := len(a.episodes)
	c.triggerLocked(a)
	lastClose := a.lastClose
	c.mu.Unlock()

	err := c.st.Commit(func(tx *store.Tx) error {
		if err := tx.DeleteEpisode(cl.AgentID, cl.Episode); err != nil {
			return err
		}
		if err := tx.PutAgent(store.Agent{AgentID: cl.AgentID, LastCloseAt: lastClose}); err != nil {
			return err
		}
		if ep.InteractionID != "" && stillOpen == 0 {
			if err := tx.PutInteraction(store.Interaction{ID: ep.InteractionID, AgentID: cl.AgentID,
				Since: cl.At.UTC(), Desired: cxone.StatusRecording}); err != nil {
				return err
			}
		}
		return tx.Audit(audit.Record{Type: audit.TypePCIClose, Agent: cl.AgentID, Interaction: ep.InteractionID,
			Episode: cl.Episode, Field: ep.Field, Rule: ep.Rule, Kind: ep.Kind, Reason: cl.Reason,
			Meta: map[string]string{"clearTimestamp": stamp(cl.At), "openWindows": fmt.Sprint(stillOpen)}})
	})
	if err != nil {
		c.fault("persist pci close", err)
		return fmt.Errorf("pci close: %w", err)
	}
	return nil
}

// TargetEnded reports that a recording (or a user's call) ended: from the webhook or a poll.
// A pending resume for it is dropped, not retried.
func (c *Controller) TargetEnded(ctx context.Context, targetID string) error {
	if holdsPAN(targetID) {
		return fmt.Errorf("target ended: %w: target id looks like card data", ErrBadInput)
	}
	if err := checkID("target id", targetID); err != nil {
		return fmt.Errorf("target ended: %w", err)
	}
	c.mu.Lock()
	var hit []store.Target
	for _, t := range c.tgs {
		if t.Target.ID == targetID && !t.Ended {
			c.endLocked(t)
			hit = append(hit, *t)
		}
	}
	c.mu.Unlock()
	return c.persistEnded(hit, "target ended", "")
}

// InteractionClosed treats every target of the interaction as ended.
func (c *Controller) InteractionClosed(ctx context.Context, interactionID string) error {
	if holdsPAN(interactionID) {
		return fmt.Errorf("interaction closed: %w: interaction id looks like card data", ErrBadInput)
	}
	if err := checkID("interaction id", interactionID); err != nil {
		return fmt.Errorf("interaction closed: %w", err)
	}
	c.mu.Lock()
	var hit []store.Target
	for _, t := range c.tgs {
		if t.Target.InteractionID == interactionID && !t.Ended {
			c.endLocked(t)
			hit = append(hit, *t)
		}
	}
	c.mu.Unlock()
	return c.persistEnded(hit, "interaction closed", interactionID)
}

func (c *Controller) endLocked(t *store.Target) {
	t.Ended, t.Known, t.Pending, t.Updated = true, cxone.StatusEnded, false, time.Now()
	delete(c.tgs, t.Target.String())
	if a := c.ags[t.Target.AgentID]; a != nil {
		a.listed = removeKey(a.listed, t.Target.String())
		c.signalLocked()
	}
}

func removeKey(s []string, k string) []string {
	out := s[:0]
	for _, x := range s {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

func (c *Controller) persistEnded(ts []store.Target, why, interaction string) error {
	err := c.st.Commit(func(tx *store.Tx) error {
		if interaction != "" {
			if err := tx.DeleteInteraction(interaction); err != nil {
				return err
			}
			if len(ts) == 0 {
				return tx.Audit(audit.Record{Type: audit.TypeTargetEnded, Interaction: interaction, Detail: why + "; no known targets"})
			}
		}
		for _, t := range ts {
			if err := tx.DeleteTarget(t.Target); err != nil {
				return err
			}
			detail := why
			if t.PausedByUs {
				detail += "; pending resume dropped"
			}
			if err := tx.Audit(audit.Record{Type: audit.TypeTargetEnded, Agent: t.Target.AgentID,
				Interaction: t.Target.InteractionID, Target: t.Target.String(), Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.fault("persist "+why, err)
		return fmt.Errorf("%s: %w", why, err)
	}
	return nil
}

// Refresh lists the agent's targets now (e.g. when a helper connects), so the first PCI
// window can pause without a listing round trip.
func (c *Controller) Refresh(ctx context.Context, agentID string) error {
	if err := checkID("agent id", agentID); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	c.mu.Lock()
	a := c.agentLocked(agentID)
	c.mu.Unlock()
	return c.list(ctx, a, prioLow)
}

// Snapshot returns the current state.
func (c *Controller) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	s := Snapshot{LastError: c.lerr, LastErrorAt: c.lat,
		Limiter: LimiterState{Rate: float64(c.lim.Limit()), Burst: c.lim.Burst(), Tokens: c.lim.TokensAt(now)}}
	if c.bu.After(now) {
		s.Limiter.BlockedUntil = c.bu
	}
	for _, a := range c.ags {
		for _, e := range a.episodes {
			s.Windows = append(s.Windows, Window{AgentID: e.AgentID, InteractionID: e.InteractionID,
				Episode: e.Episode, Field: e.Field, Reason: e.Reason, Since: e.OpenedAt})
		}
		if len(a.episodes) > 0 && !a.converged {
			s.Degraded = true
		}
		if !a.due.IsZero() && !a.due.After(now) || a.running {
			s.QueueDepth++
		}
	}
	for _, t := range c.tgs {
		s.Targets = append(s.Targets, TargetState{Target: t.Target, Known: t.Known, PausedByUs: t.PausedByUs, Pending: t.Pending})
		if t.PausedByUs {
			s.Paused++
		}
	}
	sort.Slice(s.Windows, func(i, j int) bool { return s.Windows[i].Since.Before(s.Windows[j].Since) })
	sort.Slice(s.Targets, func(i, j int) bool { return s.Targets[i].Target.String() < s.Targets[j].Target.String() })
	return s
}

func (c *Controller) fault(op string, err error) {
	c.mu.Lock()
	c.lerr = op + ": " + err.Error()
	c.lat = time.Now()
	c.mu.Unlock()
	c.log.Error("controller fault", "op", op, "err", err)
}

// reasonCode reports an upper-case code such as PCI_DATA_DETECTED.
func reasonCode(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// auditAsync appends a record in a batched transaction. A failure is surfaced as a fault.
func (c *Controller) auditAsync(r audit.Record) {
	c.persist(nil, r)
}

// persist commits targets and audit records together.
func (c *Controller) persist(ts []store.Target, rs ...audit.Record) {
	err := c.st.Commit(func(tx *store.Tx) error {
		for _, t := range ts {
			if t.Ended {
				if err := tx.DeleteTarget(t.Target); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutTarget(t); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := tx.Audit(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.fault("persist", err)
	}
}
