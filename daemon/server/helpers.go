package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"pcipause/daemon/audit"
	"pcipause/daemon/buildinfo"
	"pcipause/daemon/controller"
	"pcipause/daemon/ipc"
	"pcipause/daemon/prio"
)

// Reasons the service itself pauses for (the guide's reasons are the controller's).
const (
	// ReasonMaskingAgentDown pauses an agent's recordings while no working session helper
	// guards the agent's screen: none connected for longer than helper_grace, or its overlay
	// self-check failed.
	ReasonMaskingAgentDown = controller.ReasonMaskingAgentDown
)

// Episode names of the service's own holds; helper episodes are "<pid>/<n>" so they cannot clash.
const (
	episodeHelperDown = "helper-down"
	episodeSelfCheck  = "selfcheck-failed"
)

// heartbeatTimeout is how long a connected helper may stay silent; helpers send a heartbeat
// every second.
const heartbeatTimeout = 5 * time.Second

// helper is one connected session helper.
type helper struct {
	conn      *ipc.Conn
	peer      ipc.Peer
	hello     ipc.Hello
	agent     string // "" when the user is not an agent: masking only
	connected time.Time
	lastBeat  time.Time
	lastState ipc.State
	open      map[uint64]bool // episodes this connection has open
	// checkFailing is true while the helper's last overlay self-check failed; its hold is
	// episodeSelfCheck/<pid>, and a new helper process starts clean.
	checkFailing bool
}

// SelfCheck is the last overlay readback a helper reported.
type SelfCheck struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
	User   string    `json:"user"`
	PID    int       `json:"pid"`
}

// authorize admits root and any user that maps to a CXone agent, plus the service's own uid
// (so `pcipause status` works for an admin). Other users' helpers may still mask locally,
// but they cannot talk to the service.
func (s *Server) authorize(p ipc.Peer) error {
	if p.UID == 0 || p.UID == selfUID() {
		return nil
	}
	if _, ok := s.cfg.Agents.AgentID(p.User); ok {
		return nil
	}
	return fmt.Errorf("user %q is not a configured agent", p.User)
}

func (s *Server) serve(ctx context.Context, ln *ipc.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ipc accept: %w", err)
		}
		wg.Go(func() { s.handle(ctx, c) })
	}
}

// handle runs one connection: a helper (Hello first) or a status query (StatusRequest first).
func (s *Server) handle(ctx context.Context, c *ipc.Conn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	log := s.log.With("peer_uid", c.Peer().UID, "peer_pid", c.Peer().PID)
	_ = c.SetReadDeadline(time.Now().Add(heartbeatTimeout))
	first, err := c.Recv()
	if err != nil {
		log.Warn("ipc: no greeting", "err", err)
		return
	}
	switch m := first.(type) {
	case ipc.StatusRequest:
		s.answerStatus(c)
		return
	case ipc.Hello:
		if m.Proto != ipc.Version {
			_ = c.Send(ipc.Error{Msg: fmt.Sprintf("protocol %d not supported (service speaks %d)", m.Proto, ipc.Version)})
			return
		}
		if c.Peer().PID != 0 && m.PID != c.Peer().PID {
			_ = c.Send(ipc.Error{Msg: "hello pid does not match the connection's process"})
			log.Warn("ipc: hello pid mismatch", "hello_pid", m.PID)
			return
		}
		s.raise(c.Peer(), log)
		s.runHelper(ctx, c, m, log)
	default:
		_ = c.Send(ipc.Error{Msg: fmt.Sprintf("expected hello or status_request, got %s", first.Type())})
	}
}

func (s *Server) runHelper(ctx context.Context, c *ipc.Conn, hello ipc.Hello, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	now := time.Now()
	h := &helper{conn: c, peer: c.Peer(), hello: hello, connected: now, lastBeat: now, open: map[uint64]bool{}}
	if id, ok := s.cfg.Agents.AgentID(h.peer.User); ok {
		h.agent = id
	}
	var inherited int
	if h.agent != "" {
		inherited = len(s.orphans(h.agent))
	}
	if err := c.Send(ipc.Welcome{AgentID: h.agent, Version: ipc.Text(buildinfo.Version), Inherited: inherited}); err != nil {
		return
	}
	s.helperUp(ctx, h)
	defer s.helperDown(context.WithoutCancel(ctx), h)
	log.Info("session helper connected", "user", h.peer.User, "agent", h.agent, "session", hello.SessionID, "display", hello.Display)
	s.sendState(h)

	for {
		_ = c.SetReadDeadline(time.Now().Add(heartbeatTimeout))
		msg, err := c.Recv()
		if err != nil {
			var pe *ipc.ProtoError
			if errors.As(err, &pe) && !pe.Fatal {
				log.Warn("ipc: bad frame skipped", "err", err)
				continue
			}
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				log.Warn("session helper lost", "err", err)
			}
			return
		}
		s.mu.Lock()
		h.lastBeat = time.Now()
		s.mu.Unlock()
		switch m := msg.(type) {
		case ipc.Heartbeat:
		case ipc.PCIOpen:
			s.pciOpen(ctx, h, m)
		case ipc.PCIClose:
			s.pciClose(ctx, h, m)
		case ipc.Selfcheck:
			s.selfCheck(ctx, h, m)
		case ipc.StatusRequest:
			s.answerStatus(c)
		default:
			log.Warn("ipc: unexpected message from helper", "type", string(msg.Type()))
		}
	}
}

func (h *helper) episode(n uint64) string {
	return strconv.Itoa(h.peer.PID) + "/" + strconv.FormatUint(n, 10)
}

func (s *Server) pciOpen(ctx context.Context, h *helper, m ipc.PCIOpen) {
	s.mu.Lock()
	h.open[m.Episode] = true
	s.mu.Unlock()
	if h.agent == "" {
		s.audit(ctx, audit.Record{Type: "pci_open_unmapped", Episode: h.episode(m.Episode), Field: m.Field, Kind: m.Kind,
			Detail: "user " + h.peer.User + " is not mapped to an agent: masked locally, nothing to pause"})
		return
	}
	at := m.At
	if at.IsZero() {
		at = time.Now()
	}
	err := s.ctl.Open(ctx, controller.Open{AgentID: h.agent, Episode: h.episode(m.Episode), Field: m.Field,
		Rule: complianceRule, Kind: m.Kind, Reason: controller.ReasonPCIDetected, At: at})
	if err != nil {
		s.log.Error("pci open not persisted; acting on it anyway", "agent", h.agent, "err", err)
	}
	// This helper now guards what a dead helper left on screen: hand its windows over.
	for _, ep := range s.orphans(h.agent) {
		_ = s.ctl.Close(ctx, controller.Close{AgentID: h.agent, Episode: ep, At: at, Reason: "taken-over-by-new-helper"})
	}
	s.sendState(h)
}

// complianceRule is the guide's metadata.complianceRule for card data on screen.
const complianceRule = "PCI-DSS-Req-3.4"

func (s *Server) pciClose(ctx context.Context, h *helper, m ipc.PCIClose) {
	s.mu.Lock()
	known := h.open[m.Episode]
	delete(h.open, m.Episode)
	s.mu.Unlock()
	if h.agent == "" || !known {
		return
	}
	at := m.At
	if at.IsZero() {
		at = time.Now()
	}
	if err := s.ctl.Close(ctx, controller.Close{AgentID: h.agent, Episode: h.episode(m.Episode), At: at, Reason: m.Reason}); err != nil &&
		!errors.Is(err, controller.ErrUnknownEpisode) {
		s.log.Error("pci close", "agent", h.agent, "err", err)
	}
}

func (s *Server) selfCheck(ctx context.Context, h *helper, m ipc.Selfcheck) {
	s.mu.Lock()
	s.lastCheck = &SelfCheck{At: time.Now(), OK: m.OK, Detail: m.Detail, User: h.peer.User, PID: h.peer.PID}
	wasFailing := h.checkFailing
	h.checkFailing = !m.OK
	s.mu.Unlock()
	if h.agent == "" || wasFailing == !m.OK {
		return
	}
	ep := episodeSelfCheck + "/" + strconv.Itoa(h.peer.PID)
	if !m.OK {
		s.log.Warn("overlay self-check failed: pausing", "agent", h.agent, "detail", m.Detail)
		s.audit(ctx, audit.Record{Type: "selfcheck_failed", Agent: h.agent, Detail: m.Detail})
		if err := s.ctl.Open(ctx, controller.Open{AgentID: h.agent, Episode: ep, Kind: "selfcheck",
			Reason: ReasonMaskingAgentDown, Rule: complianceRule, At: time.Now()}); err != nil {
			s.log.Error("self-check hold", "agent", h.agent, "err", err)
		}
		return
	}
	s.audit(ctx, audit.Record{Type: "selfcheck_ok", Agent: h.agent, Detail: m.Detail})
	if err := s.ctl.Close(ctx, controller.Close{AgentID: h.agent, Episode: ep, At: time.Now(), Reason: "selfcheck-ok"}); err != nil &&
		!errors.Is(err, controller.ErrUnknownEpisode) {
		s.log.Error("release self-check hold", "agent", h.agent, "err", err)
	}
}

func (s *Server) helperUp(ctx context.Context, h *helper) {
	s.mu.Lock()
	s.helpers[h] = struct{}{}
	s.connections++
	var release bool
	if h.agent != "" {
		w := s.agents[h.agent]
		if w == nil {
			w = &agentWatch{}
			s.agents[h.agent] = w
		}
		w.connected++
		release = w.holding
		w.holding = false
	}
	s.mu.Unlock()
	s.audit(ctx, audit.Record{Type: "helper_connected", Agent: h.agent, Detail: fmt.Sprintf("user %s pid %d session %s", h.peer.User, h.peer.PID, h.hello.SessionID)})
	if h.agent == "" {
		return
	}
	if release {
		if err := s.ctl.Close(ctx, controller.Close{AgentID: h.agent, Episode: episodeHelperDown, At: time.Now(), Reason: "helper-back"}); err != nil &&
			!errors.Is(err, controller.ErrUnknownEpisode) {
			s.log.Error("release helper-down hold", "agent", h.agent, "err", err)
		}
	}
	// Self-check holds of helper processes that are gone: the new helper checks anew.
	for _, w := range s.ctl.Snapshot().Windows {
		if w.AgentID == h.agent && strings.HasPrefix(w.Episode, episodeSelfCheck+"/") &&
			w.Episode != episodeSelfCheck+"/"+strconv.Itoa(h.peer.PID) {
			_ = s.ctl.Close(ctx, controller.Close{AgentID: h.agent, Episode: w.Episode, At: time.Now(), Reason: "helper-restarted"})
		}
	}
	_ = s.ctl.Refresh(ctx, h.agent)
}

// orphans lists the agent's PCI windows whose helper process is gone. They stay open (the
// card data may still be on screen) until a helper of the agent opens its own window for it.
func (s *Server) orphans(agent string) []string {
	var eps []string
	for _, w := range s.ctl.Snapshot().Windows {
		if w.AgentID == agent && isHelperEpisode(w.Episode) && !s.episodeLive(w.Episode) {
			eps = append(eps, w.Episode)
		}
	}
	return eps
}

// isHelperEpisode tells helper episodes ("<pid>/<n>") from the service's own holds.
func isHelperEpisode(ep string) bool {
	for i := 0; i < len(ep); i++ {
		if ep[i] == '/' {
			_, err := strconv.Atoi(ep[:i])
			return i > 0 && err == nil
		}
	}
	return false
}

// episodeLive reports whether a connected helper owns the episode.
func (s *Server) episodeLive(ep string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := range s.helpers {
		for n := range h.open {
			if h.episode(n) == ep {
				return true
			}
		}
	}
	return false
}

func (s *Server) helperDown(ctx context.Context, h *helper) {
	s.mu.Lock()
	delete(s.helpers, h)
	if w := s.agents[h.agent]; h.agent != "" && w != nil {
		w.connected--
		if w.connected == 0 {
			w.goneSince = time.Now()
		}
	}
	open := len(h.open)
	s.mu.Unlock()
	s.audit(ctx, audit.Record{Type: "helper_disconnected", Agent: h.agent,
		Detail: fmt.Sprintf("user %s pid %d, %d PCI windows left open", h.peer.User, h.peer.PID, open)})
}

// watchHelpers is the fail-closed watch: an agent with no helper for longer than
// helper_grace gets a MASKING_AGENT_DOWN hold, which pauses whatever it is recording.
func (s *Server) watchHelpers(ctx context.Context) error {
	grace := s.cfg.Controller.HelperGrace.Duration
	tick := time.NewTicker(min(grace/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			var down []string
			s.mu.Lock()
			for agent, w := range s.agents {
				if w.connected == 0 && !w.holding && now.Sub(w.goneSince) >= grace {
					w.holding = true
					down = append(down, agent)
				}
			}
			s.mu.Unlock()
			for _, agent := range down {
				s.log.Warn("no session helper guards this agent: pausing", "agent", agent, "grace", grace)
				if err := s.ctl.Open(ctx, controller.Open{AgentID: agent, Episode: episodeHelperDown, Kind: "helper-down",
					Reason: ReasonMaskingAgentDown, Rule: complianceRule, At: now}); err != nil {
					s.log.Error("helper-down hold", "agent", agent, "err", err)
				}
			}
		}
	}
}

// pushStates sends each helper its agent's recording state when it changes. It wakes on the
// controller's change cue, not on a timer, so an idle service stays asleep; bursts of changes
// are coalesced over statePushDelay, and a slow tick is the backstop.
func (s *Server) pushStates(ctx context.Context) error {
	tick := time.NewTicker(statePushBackstop)
	defer tick.Stop()
	for {
		changed := s.ctl.Changed()
		s.mu.Lock()
		hs := make([]*helper, 0, len(s.helpers))
		for h := range s.helpers {
			hs = append(hs, h)
		}
		s.mu.Unlock()
		for _, h := range hs {
			s.sendState(h)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statePushDelay):
		}
	}
}

const (
	statePushDelay    = 25 * time.Millisecond
	statePushBackstop = 10 * time.Second
)

func (s *Server) sendState(h *helper) {
	st := s.agentState(h.agent)
	s.mu.Lock()
	same := st.Recording == h.lastState.Recording && st.Paused == h.lastState.Paused &&
		st.Degraded == h.lastState.Degraded && st.Reason == h.lastState.Reason && st.Detail == h.lastState.Detail
	if !same {
		if st.Since.IsZero() {
			st.Since = time.Now()
		}
		h.lastState = st
	}
	s.mu.Unlock()
	if !same {
		_ = h.conn.Send(st)
	}
}

// agentState derives what the agent's tray shows from the controller's snapshot.
func (s *Server) agentState(agent string) ipc.State {
	if agent == "" {
		return ipc.State{Detail: "this user is not mapped to a CXone agent: masking only"}
	}
	snap := s.ctl.Snapshot()
	var st ipc.State
	var open bool
	for _, w := range snap.Windows {
		if w.AgentID == agent {
			open = true
			st.Reason = w.Reason
			if st.Since.IsZero() || w.Since.Before(st.Since) {
				st.Since = w.Since
			}
		}
	}
	var targets, paused int
	for _, t := range snap.Targets {
		if t.Target.AgentID != agent {
			continue
		}
		targets++
		if t.PausedByUs || t.Known == "PAUSED" {
			paused++
		}
	}
	st.Recording = targets > 0
	st.Paused = targets > 0 && paused == targets
	if st.Paused {
		st.LastPauseReason = st.Reason
	}
	if open && !st.Paused && targets > 0 {
		st.Degraded = true
		st.Detail = "PCI data masked; recording not yet paused"
		if snap.LastError != "" {
			st.Detail += ": " + snap.LastError
		}
	}
	return st
}

func (s *Server) answerStatus(c *ipc.Conn) {
	doc, err := json.Marshal(s.Status())
	if err != nil {
		_ = c.Send(ipc.Error{Msg: "status: " + err.Error()})
		return
	}
	_ = c.Send(ipc.Status{Status: doc})
}

// raise gives a helper the CPU priority of [overlay] helper_nice, but only a helper running
// the installed executable: any local program can connect and say hello, and the service
// must not hand out priority to whatever asks.
func (s *Server) raise(p ipc.Peer, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	nice := s.cfg.Overlay.HelperNice
	if nice == 0 || p.PID == 0 {
		return
	}
	if !sameFile(p.Exe, s.helperExe) {
		log.Info("session helper left at normal priority: not the installed helper", "exe", p.Exe, "installed", s.helperExe)
		return
	}
	if err := prio.Raise(p.PID, nice); err != nil {
		log.Warn("session helper left at normal priority", "err", err)
		return
	}
	log.Info("session helper priority raised", "nice", nice)
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
