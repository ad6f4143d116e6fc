// Package supervise keeps one session helper (pcipause-session) running in every interactive
// user session on a Windows host: it follows session logon, logoff and connect events, starts
// the helper in each active console or remote-desktop session as that session's user, restarts
// it with exponential backoff when it dies, and gives up loudly after repeated quick crashes.
//
// On Linux the desktop session starts the helper itself (XDG autostart or a systemd user
// unit), so the supervisor there only says so and waits.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Options configures New. Zero values take the defaults shown.
type Options struct {
	// HelperPath is the helper executable; default: pcipause-session(.exe) next to the running
	// executable.
	HelperPath string
	// Args are passed to the helper after its own name.
	Args []string
	// MinBackoff is the delay before the first restart (default 1 s); each further quick crash
	// doubles it, up to MaxBackoff (default 1 min).
	MinBackoff, MaxBackoff time.Duration
	// StableAfter is how long a helper must run for its crash count to reset (default 1 min).
	StableAfter time.Duration
	// MaxCrashes is how many quick crashes in a row make the supervisor give up on a session
	// (default 5). It tries again when the session logs on or reconnects.
	MaxCrashes int
	// Rescan is how often sessions are listed even without a notification (default 10 s).
	Rescan time.Duration
	// OnEvent, if set, is called (from the supervisor's goroutine) for every start, exit and
	// give-up, for the service's status and audit trail. It must not block.
	OnEvent func(Event)
}

// Session is one interactive logon session.
type Session struct {
	ID      uint32 // Windows session id
	User    string // DOMAIN\user
	Station string // window station name: "Console", "RDP-Tcp#3"
}

// EventKind says what happened to a helper.
type EventKind int

const (
	EventStarted EventKind = iota + 1
	EventExited
	EventGaveUp
	EventStartFailed
	EventSessionEnded // the session logged off or disconnected; its helper is no longer supervised
)

func (k EventKind) String() string {
	switch k {
	case EventStarted:
		return "started"
	case EventExited:
		return "exited"
	case EventGaveUp:
		return "gave-up"
	case EventStartFailed:
		return "start-failed"
	case EventSessionEnded:
		return "session-ended"
	}
	return "unknown"
}

// Event reports one change of a session's helper.
type Event struct {
	Kind    EventKind
	Session Session
	PID     int
	Crashes int   // quick crashes in a row so far
	Err     error // why it exited or could not start
}

// State is a helper's current state in Helper.State.
type State string

const (
	StateRunning State = "running"
	StateBackoff State = "backoff" // waiting to restart
	StateGaveUp  State = "gave-up" // too many crashes; waiting for a logon or reconnect
)

// Helper describes one supervised session for status output.
type Helper struct {
	Session   Session
	State     State
	PID       int // 0 unless running
	Since     time.Time
	Restarts  int
	Crashes   int
	LastError string
}

// ErrGaveUp wraps the last error of a session the supervisor has given up on.
var ErrGaveUp = errors.New("session helper keeps crashing; supervisor gave up")

// process is a running helper as the platform started it.
type process interface {
	PID() int
	// Wait blocks until the process exits (returning why, nil for exit code 0) or stop is
	// closed (returning errStopped).
	Wait(stop <-chan struct{}) error
}

var errStopped = errors.New("wait abandoned")

// platform is what the supervisor needs from the OS; Windows implements it with WTS calls and
// CreateProcessAsUser, tests with a fake.
type platform interface {
	// sessions lists the active interactive sessions that have a user.
	sessions() ([]Session, error)
	// start launches the helper into s as its user.
	start(s Session, path string, args []string) (process, error)
	// existing returns helpers already running (left by an earlier service run), by session.
	existing(path string) (map[uint32]process, error)
	// watch calls changed on every session change notification until ctx ends. It returns
	// an error only when notifications are unavailable; the rescan timer then carries on.
	watch(ctx context.Context, changed func()) error
}

// Supervisor runs the helpers. Create it with New and call Run once.
type Supervisor struct {
	opts Options
	log  *slog.Logger
	plat platform // nil: the desktop session starts helpers (Linux)

	mu      sync.Mutex
	helpers map[uint32]*helper
}

type helper struct {
	sess     Session
	state    State
	proc     process
	since    time.Time
	restarts int
	crashes  int
	lastErr  error
	retry    *time.Timer
}

// New prepares a supervisor; nothing starts until Run.
func New(opts Options, log *slog.Logger) (*Supervisor, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "supervise")
	opts = withDefaults(opts)
	plat, err := newPlatform(&opts)
	if err != nil {
		return nil, fmt.Errorf("supervise: %w", err)
	}
	return newWith(opts, plat, log), nil
}

func newWith(opts Options, plat platform, log *slog.Logger) *Supervisor {
	return &Supervisor{opts: withDefaults(opts), log: log, plat: plat, helpers: map[uint32]*helper{}}
}

func withDefaults(o Options) Options {
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.StableAfter <= 0 {
		o.StableAfter = time.Minute
	}
	if o.MaxCrashes <= 0 {
		o.MaxCrashes = 5
	}
	if o.Rescan <= 0 {
		o.Rescan = 10 * time.Second
	}
	return o
}

// Helpers returns the supervised sessions, ordered by session id.
func (s *Supervisor) Helpers() []Helper {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Helper, 0, len(s.helpers))
	for _, id := range slices.Sorted(maps.Keys(s.helpers)) {
		h := s.helpers[id]
		x := Helper{Session: h.sess, State: h.state, Since: h.since, Restarts: h.restarts, Crashes: h.crashes}
		if h.proc != nil {
			x.PID = h.proc.PID()
		}
		if h.lastErr != nil {
			x.LastError = h.lastErr.Error()
		}
		out = append(out, x)
	}
	return out
}

// loop is one Run's plumbing: helper exits and restart timers come back to Run's goroutine,
// which alone changes helper state (under mu, for Helpers).
type loop struct {
	wg      sync.WaitGroup
	exits   chan exitMsg
	retries chan uint32
	stop    chan struct{}
}

type exitMsg struct {
	id   uint32
	proc process
	err  error
}

// Run supervises until ctx is cancelled, then returns nil. Helpers are left running when it
// returns: masking must not stop because the service does; the next Run adopts them.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.plat == nil {
		s.log.Info("helpers are started by the desktop session on Linux; nothing to supervise")
		<-ctx.Done()
		return nil
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	l := &loop{exits: make(chan exitMsg), retries: make(chan uint32), stop: make(chan struct{})}
	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer func() {
		cancelWatch()
		close(l.stop)
		s.mu.Lock()
		for _, h := range s.helpers {
			s.cancelRetryLocked(l, h)
		}
		s.mu.Unlock()
		l.wg.Wait()
	}()
	l.wg.Go(func() {
		if err := s.plat.watch(watchCtx, notify); err != nil {
			s.log.Warn("no session change notifications; relying on the periodic rescan", "every", s.opts.Rescan, "err", err)
		}
	})

	if found, err := s.plat.existing(s.opts.HelperPath); err != nil {
		s.log.Warn("cannot look for helpers left running", "err", err)
	} else {
		for id, p := range found {
			s.mu.Lock()
			s.helpers[id] = &helper{sess: Session{ID: id}, state: StateRunning, proc: p, since: time.Now()}
			s.mu.Unlock()
			s.log.Info("adopted a running session helper", "session", id, "pid", p.PID())
			s.wait(l, id, p)
		}
	}

	tick := time.NewTicker(s.opts.Rescan)
	defer tick.Stop()
	s.reconcile(l, false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			s.reconcile(l, true)
		case <-tick.C:
			s.reconcile(l, false)
		case m := <-l.exits:
			s.exited(l, m)
		case id := <-l.retries:
			s.restart(l, id)
		}
	}
}

// wait watches p on its own goroutine and reports its exit.
func (s *Supervisor) wait(l *loop, id uint32, p process) {
	l.wg.Go(func() {
		err := p.Wait(l.stop)
		if errors.Is(err, errStopped) {
			return
		}
		select {
		case l.exits <- exitMsg{id: id, proc: p, err: err}:
		case <-l.stop:
		}
	})
}

// reconcile starts helpers in new sessions and forgets sessions that are gone. After a session
// change notification (logon, reconnect) sessions given up on get a fresh start.
func (s *Supervisor) reconcile(l *loop, notified bool) {
	list, err := s.plat.sessions()
	if err != nil {
		s.log.Error("cannot list sessions", "err", err)
		return
	}
	active := map[uint32]Session{}
	for _, ss := range list {
		active[ss.ID] = ss
	}
	s.mu.Lock()
	var toStart []uint32
	var ended []Session
	for id, h := range s.helpers {
		ss, ok := active[id]
		if !ok {
			// Logged off or disconnected: a helper still running there exits with its desktop.
			s.cancelRetryLocked(l, h)
			if h.proc == nil {
				delete(s.helpers, id)
				ended = append(ended, h.sess)
			}
			continue
		}
		if h.sess.User == "" || h.sess.User != ss.User {
			h.sess = ss // adopted helpers learn their user here
		}
		if h.state == StateGaveUp && notified {
			h.crashes, h.state = 0, StateBackoff
			toStart = append(toStart, id)
		}
	}
	for id, ss := range active {
		if _, ok := s.helpers[id]; !ok {
			s.helpers[id] = &helper{sess: ss, state: StateBackoff, since: time.Now()}
			toStart = append(toStart, id)
		}
	}
	s.mu.Unlock()
	for _, ss := range ended {
		s.log.Info("session ended; its helper is no longer supervised", "session", ss.ID, "user", ss.User)
		s.emit(Event{Kind: EventSessionEnded, Session: ss})
	}
	slices.Sort(toStart)
	for _, id := range toStart {
		s.restart(l, id)
	}
}

// restart starts the helper of session id if it still needs one.
func (s *Supervisor) restart(l *loop, id uint32) {
	s.mu.Lock()
	h, ok := s.helpers[id]
	if !ok || h.state != StateBackoff || h.proc != nil {
		s.mu.Unlock()
		return
	}
	h.retry = nil
	sess := h.sess
	s.mu.Unlock()

	// The session may have ended while the restart waited: then the sweep forgets it.
	if list, err := s.plat.sessions(); err == nil && !slices.ContainsFunc(list, func(x Session) bool { return x.ID == id }) {
		s.reconcile(l, false)
		return
	}
	p, err := s.plat.start(sess, s.opts.HelperPath, s.opts.Args)

	s.mu.Lock()
	if err != nil {
		h.lastErr = err
		h.crashes++
		ev := Event{Kind: EventStartFailed, Session: sess, Crashes: h.crashes, Err: err}
		s.backoffLocked(l, h, id)
		gave := h.state == StateGaveUp
		s.mu.Unlock()
		s.log.Error("cannot start session helper", "session", id, "user", sess.User, "err", err)
		s.emit(ev)
		if gave {
			s.gaveUp(h, sess)
		}
		return
	}
	if h.lastErr != nil {
		h.restarts++
	}
	h.proc, h.state, h.since = p, StateRunning, time.Now()
	s.mu.Unlock()
	s.log.Info("session helper started", "session", id, "user", sess.User, "pid", p.PID())
	s.emit(Event{Kind: EventStarted, Session: sess, PID: p.PID()})
	s.wait(l, id, p)
}

// exited handles a helper's exit: every exit while its session is active is a restart; an exit
// within StableAfter of the start also counts as a crash.
func (s *Supervisor) exited(l *loop, m exitMsg) {
	s.mu.Lock()
	h, ok := s.helpers[m.id]
	if !ok || h.proc != m.proc {
		s.mu.Unlock()
		return
	}
	ran := time.Since(h.since)
	h.proc = nil
	if m.err == nil {
		m.err = errors.New("exited with status 0")
	}
	h.lastErr = m.err
	if ran >= s.opts.StableAfter {
		h.crashes = 0
	}
	h.crashes++
	sess := h.sess
	ev := Event{Kind: EventExited, Session: sess, PID: m.proc.PID(), Crashes: h.crashes, Err: m.err}
	s.backoffLocked(l, h, m.id)
	gave := h.state == StateGaveUp
	s.mu.Unlock()
	s.log.Warn("session helper exited", "session", m.id, "user", sess.User, "pid", m.proc.PID(),
		"ran", ran.Round(time.Millisecond), "crashes", ev.Crashes, "err", m.err)
	s.emit(ev)
	if gave {
		s.gaveUp(h, sess)
	}
}

// backoffLocked schedules the next start of h after MinBackoff·2^(crashes-1), capped at
// MaxBackoff, or gives up after MaxCrashes.
func (s *Supervisor) backoffLocked(l *loop, h *helper, id uint32) {
	if h.crashes >= s.opts.MaxCrashes {
		h.state = StateGaveUp
		return
	}
	h.state = StateBackoff
	delay := s.backoff(h.crashes)
	l.wg.Add(1)
	h.retry = time.AfterFunc(delay, func() {
		defer l.wg.Done()
		select {
		case l.retries <- id:
		case <-l.stop:
		}
	})
}

// backoff is the delay before the restart that follows the crashes-th quick crash.
func (s *Supervisor) backoff(crashes int) time.Duration {
	return min(s.opts.MinBackoff<<min(max(crashes-1, 0), 20), s.opts.MaxBackoff)
}

func (s *Supervisor) cancelRetryLocked(l *loop, h *helper) {
	if h.retry != nil && h.retry.Stop() {
		l.wg.Done()
	}
	h.retry = nil
}

func (s *Supervisor) gaveUp(h *helper, sess Session) {
	s.mu.Lock()
	err := fmt.Errorf("%w: session %d (%s) after %d crashes: %w", ErrGaveUp, sess.ID, sess.User, h.crashes, h.lastErr)
	crashes := h.crashes
	s.mu.Unlock()
	s.log.Error("session helper gave up: no masking in this session until it logs on or reconnects",
		"session", sess.ID, "user", sess.User, "crashes", crashes, "err", err)
	s.emit(Event{Kind: EventGaveUp, Session: sess, Crashes: crashes, Err: err})
}

func (s *Supervisor) emit(e Event) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}
