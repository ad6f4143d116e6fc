package server

import (
	"os"
	"sort"
	"time"

	"pcipause/daemon/buildinfo"
	"pcipause/daemon/controller"
)

// Status is the document `pcipause status --json` prints. Its keys are stable; new keys may be
// added. It holds no secret and no card data, so any local user may read it.
type Status struct {
	Service    ServiceStatus            `json:"service"`
	Helpers    []HelperStatus           `json:"helpers"`
	PCIWindows []controller.Window      `json:"pci_windows"`
	Targets    []controller.TargetState `json:"targets"`
	Paused     int                      `json:"paused"`
	QueueDepth int                      `json:"queue_depth"`
	RateLimit  controller.LimiterState  `json:"rate_limit"`
	LastError  *LastError               `json:"last_cxone_error,omitempty"`
	SelfCheck  *SelfCheck               `json:"last_selfcheck,omitempty"`
	Degraded   bool                     `json:"degraded"`
}

// ServiceStatus describes the service process.
type ServiceStatus struct {
	State         string    `json:"state"` // "running" when answered by the service
	Version       string    `json:"version"`
	Commit        string    `json:"commit"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	Backend       string    `json:"backend"`
}

// HelperStatus is one connected session helper.
type HelperStatus struct {
	User          string    `json:"user"`
	UID           int       `json:"uid"`
	PID           int       `json:"pid"`
	Session       string    `json:"session"`
	Display       string    `json:"display,omitempty"`
	AgentID       string    `json:"agent_id,omitempty"`
	Version       string    `json:"version,omitempty"`
	Connected     time.Time `json:"connected"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	OpenWindows   int       `json:"open_windows"`
}

// LastError is the controller's most recent CXone failure.
type LastError struct {
	At      time.Time `json:"at"`
	Message string    `json:"message"`
}

// Status returns the current status document.
func (s *Server) Status() Status {
	snap := s.ctl.Snapshot()
	now := time.Now()
	st := Status{
		Service: ServiceStatus{State: "running", Version: buildinfo.Version, Commit: buildinfo.Commit, PID: os.Getpid(),
			Started: s.started, UptimeSeconds: int64(now.Sub(s.started).Seconds()), Backend: s.backend},
		PCIWindows: snap.Windows,
		Targets:    snap.Targets,
		Paused:     snap.Paused,
		QueueDepth: snap.QueueDepth,
		RateLimit:  snap.Limiter,
		Degraded:   snap.Degraded,
	}
	if st.PCIWindows == nil {
		st.PCIWindows = []controller.Window{}
	}
	if st.Targets == nil {
		st.Targets = []controller.TargetState{}
	}
	if snap.LastError != "" {
		st.LastError = &LastError{At: snap.LastErrorAt, Message: snap.LastError}
	}
	s.mu.Lock()
	st.Helpers = make([]HelperStatus, 0, len(s.helpers))
	for h := range s.helpers {
		st.Helpers = append(st.Helpers, HelperStatus{User: h.peer.User, UID: h.peer.UID, PID: h.peer.PID, Session: h.hello.SessionID,
			Display: h.hello.Display, AgentID: h.agent, Version: h.hello.Version, Connected: h.connected,
			LastHeartbeat: h.lastBeat, OpenWindows: len(h.open)})
	}
	if s.lastCheck != nil {
		c := *s.lastCheck
		st.SelfCheck = &c
		if !c.OK {
			st.Degraded = true
		}
	}
	s.mu.Unlock()
	sort.Slice(st.Helpers, func(i, j int) bool { return st.Helpers[i].PID < st.Helpers[j].PID })
	return st
}
