// Package server is the pcipause service runtime: it wires the config, the state file, the
// CXone back end, the pause controller, the IPC endpoint the session helpers connect to, the
// optional ended-webhook receiver and the fail-closed watch over missing helpers, and runs
// them until its context is cancelled.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"pcipause/daemon/audit"
	"pcipause/daemon/config"
	"pcipause/daemon/controller"
	"pcipause/daemon/cxone"
	"pcipause/daemon/ipc"
	"pcipause/daemon/store"
)

// Options configures Run.
type Options struct {
	// ConfigPath is the config file; ignored when Config is set.
	ConfigPath string
	// Config replaces loading ConfigPath (pcipause local builds one in memory).
	Config *config.Config
	// Backend replaces the CXone client built from the config (tests).
	Backend cxone.Backend
	// Authorizer replaces the default IPC peer check (any local user who maps to an agent,
	// and root).
	Authorizer ipc.Authorizer
	// Log receives the service's log; nil discards it.
	Log *slog.Logger
	// Ready, when set, is called once the IPC endpoint accepts helpers.
	Ready func()
	// NoSupervise leaves starting session helpers to the caller (pcipause local); otherwise
	// the service starts one per interactive session where the platform needs it (Windows).
	NoSupervise bool
	// HelperExe is the session helper executable whose connections get the priority of
	// [overlay] helper_nice; default pcipause-session next to the service's own executable.
	HelperExe string
}

// Run runs the service until ctx is cancelled, then stops every component and returns nil.
// It fails early, with an error naming the cause, when the config is invalid or the IPC
// endpoint cannot be created.
func Run(ctx context.Context, opts Options) error {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(opts.ConfigPath); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.Paths.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.Paths.StateDir, store.FileName), store.Options{}, log.With("component", "store"))
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer st.Close()

	be := opts.Backend
	if be == nil {
		bo, err := BackendOptions(cfg)
		if err != nil {
			return err
		}
		if be, err = cxone.New(bo, log); err != nil {
			return err
		}
	}
	ctl := controller.New(st, be, ControllerConfig(cfg), log.With("component", "controller"))

	s := &Server{
		cfg:       cfg,
		log:       log.With("component", "server"),
		ctl:       ctl,
		store:     st,
		backend:   be.Name(),
		started:   time.Now(),
		helpers:   map[*helper]struct{}{},
		agents:    map[string]*agentWatch{},
		helperExe: opts.HelperExe,
	}
	if s.helperExe == "" {
		s.helperExe, _ = helperPath() // no path: no helper is raised
	}
	for _, agent := range cfg.Agents.Users {
		s.agents[agent] = &agentWatch{goneSince: s.started}
	}
	s.audit(ctx, audit.Record{Type: "service_started", Detail: "backend " + be.Name()})

	authz := opts.Authorizer
	if authz == nil {
		authz = s.authorize
	}
	ln, err := ipc.Listen(cfg.Paths.Socket, log.With("component", "ipc"), ipc.WithAuthorizer(authz))
	if err != nil {
		return fmt.Errorf("ipc: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ctl.Run(gctx) })
	g.Go(func() error { return s.serve(gctx, ln) })
	g.Go(func() error { return s.watchHelpers(gctx) })
	g.Go(func() error { return s.pushStates(gctx) })
	if !opts.NoSupervise {
		sup, err := s.supervisor(opts.ConfigPath)
		if err != nil {
			s.log.Error("session helper supervision unavailable", "err", err)
		} else {
			g.Go(func() error { return sup.Run(gctx) })
		}
	}
	if cfg.Webhook.Enabled {
		g.Go(func() error { return s.runWebhook(gctx) })
	}
	if opts.Ready != nil {
		opts.Ready()
	}
	s.log.Info("service running", "socket", ln.Addr(), "backend", be.Name())
	err = g.Wait()
	s.audit(context.WithoutCancel(ctx), audit.Record{Type: "service_stopped"})
	if errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Server is the running service's shared state.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	ctl     *controller.Controller
	store   *store.Store
	backend string
	started time.Time

	mu          sync.Mutex
	helpers     map[*helper]struct{}
	agents      map[string]*agentWatch // by agent id
	lastCheck   *SelfCheck
	connections uint64
	helperExe   string // see Options.HelperExe
}

// agentWatch is the fail-closed bookkeeping for one agent.
type agentWatch struct {
	connected int       // helpers of this agent connected now
	goneSince time.Time // when the last one left (or the service started)
	holding   bool      // a MASKING_AGENT_DOWN window is open
}

func (s *Server) audit(ctx context.Context, r audit.Record) {
	if err := s.store.Append(ctx, r); err != nil {
		s.log.Error("audit append failed", "type", r.Type, "err", err)
	}
}
