package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"pcipause/daemon/buildinfo"
	"pcipause/daemon/config"
	"pcipause/daemon/ipc"
	"pcipause/hooks"
	"pcipause/hooks/detect"
	"pcipause/overlay"
	"pcipause/tray"
)

// runSession wires hooks → guard → overlay on the hot path, and the guard's PCI windows to the
// service through the IPC client. Masking never waits for the service.
func runSession(ctx context.Context, o options) error {
	log := o.log
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return err
	}
	dcfg, err := detectConfig(cfg)
	if err != nil {
		return err
	}
	socket := o.socket
	if socket == "" {
		socket = cfg.Paths.Socket
	}
	release, err := singleInstance(o.display)
	if err != nil {
		return err
	}
	defer release()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var ov overlay.Overlay = nopOverlay{}
	if !o.noOverlay {
		ov, err = overlay.New(ctx, overlay.Options{Display: displayName(o.display), SeeThrough: cfg.Overlay.SeeThrough}, log)
		if err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
	} else {
		log.Warn("running UNPROTECTED: the overlay is disabled (benchmark baseline)")
	}
	defer ov.Close()

	client := ipc.NewClient(socket, ipc.Hello{PID: os.Getpid(), SessionID: ipc.Text(sessionID()), Display: ipc.Text(displayName(o.display)),
		Version: ipc.Text(buildinfo.Version)}, log)
	st := &sessionState{inherit: make(chan struct{}, 1)}
	tr := tray.New(o.baseLog, st.diagnostics)
	st.tray = tr
	st.refresh()
	client.OnConnState = st.connState
	client.OnMessage = st.message

	checks := make(chan struct{}, 1)
	m := &checkedMasker{ov: ov, checks: checks}
	rep := &reporter{events: make(chan reportEvent, 256)}
	guard := detect.NewGuard(dcfg, m, rep, log)
	defer guard.Close()

	src, err := hooks.New(hooks.Options{Display: displayName(o.display)}, log)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	started := make(chan error, 1)
	g.Go(func() error {
		err := src.Run(gctx, started, guard)
		if err == nil && gctx.Err() == nil {
			log.Info("the desktop session ended: exiting")
			cancel()
		}
		return err
	})
	g.Go(func() error { return client.Run(gctx) })
	g.Go(func() error { return rep.forward(gctx, client, st) })
	g.Go(func() error { return selfChecks(gctx, ov, checks, client, st, log) })
	if !o.noTray {
		trayStarted := make(chan error, 1)
		g.Go(func() error { return tr.Run(gctx, trayStarted) })
	}

	select {
	case err := <-started:
		if err != nil {
			cancel()
			_ = g.Wait()
			return fmt.Errorf("hooks: %w", err)
		}
	case <-gctx.Done():
		return g.Wait()
	}
	log.Info("masking live", "version", buildinfo.Version, "socket", socket)
	g.Go(func() error {
		// A previous helper process was killed or crashed while card data was masked: this
		// one never saw the digits, so it masks the focused window until they are erased.
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-st.inherit:
				time.Sleep(100 * time.Millisecond) // let the first focus report land
				log.Warn("taking over PCI windows a previous helper left open: masking the focused window")
				guard.Inherit()
			}
		}
	})
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Warn("ready file", "err", err)
		}
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func loadConfig(path string) (*config.Config, error) {
	explicit := path != ""
	if !explicit {
		path = config.DefaultPath()
	}
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, nil
	}
	if !explicit && errors.Is(err, os.ErrNotExist) {
		// No config readable: mask with the defaults rather than not at all.
		return config.Default(), nil
	}
	return nil, err
}

// detectConfig maps the config file's detector table to the detector's own config.
func detectConfig(cfg *config.Config) (detect.Config, error) {
	d := detect.Config{PauseOn: detect.PauseOn(cfg.Detector.PauseOn), HoldDown: cfg.Controller.HoldDown.Duration}
	for i, x := range cfg.Detector.Exclude {
		am, err := appMatch(x.Exe, x.Class, x.Title)
		if err != nil {
			return d, fmt.Errorf("config: detector.exclude[%d]: %w", i, err)
		}
		d.Exclude = append(d.Exclude, am)
	}
	for i, r := range cfg.Detector.Rules {
		am, err := appMatch(r.Exe, r.Class, r.Title)
		if err != nil {
			return d, fmt.Errorf("config: detector.rule[%d]: %w", i, err)
		}
		fr := detect.FieldRule{Name: r.Name, App: am}
		if r.FieldLabel != "" {
			fr.Label = detect.MustPattern(regexp.QuoteMeta(r.FieldLabel))
		}
		if r.FieldRole != "" {
			fr.Role = detect.MustPattern(regexp.QuoteMeta(r.FieldRole))
		}
		if len(r.Rect) == 4 && !r.WholeWindow {
			copy(fr.Rect[:], r.Rect)
		}
		d.Fields = append(d.Fields, fr)
	}
	return d, d.Validate()
}

// appMatch turns the config's exact exe/class and RE2 title into detector patterns.
func appMatch(exe, class, title string) (detect.AppMatch, error) {
	var am detect.AppMatch
	var err error
	if exe != "" {
		am.Exe = detect.MustPattern(regexp.QuoteMeta(exe))
	}
	if class != "" {
		am.Class = detect.MustPattern(regexp.QuoteMeta(class))
	}
	if title != "" {
		if am.Title, err = detect.ParsePattern(".*(?:" + title + ").*"); err != nil {
			return am, fmt.Errorf("title: %w", err)
		}
	}
	return am, nil
}

// checkedMasker asks for a readback self-check after every show, off the hot path.
type checkedMasker struct {
	ov     overlay.Overlay
	checks chan struct{}
}

func (m *checkedMasker) Show(r image.Rectangle, label string) error {
	err := m.ov.Show(r, label)
	if err == nil {
		select {
		case m.checks <- struct{}{}:
		default:
		}
	}
	return err
}
func (m *checkedMasker) Move(r image.Rectangle) error { return m.ov.Move(r) }

// Anchor passes the guard's anchor on where the overlay can pin a mask to a window (X11).
func (m *checkedMasker) Anchor(win uint64, rel image.Rectangle) {
	if a, ok := m.ov.(detect.Anchorer); ok {
		a.Anchor(win, rel)
	}
}
func (m *checkedMasker) Hide() error { return m.ov.Hide() }

// selfChecks reads the mask back shortly after each show and reports the result.
func selfChecks(ctx context.Context, ov overlay.Overlay, checks <-chan struct{}, client *ipc.Client, st *sessionState, log interface{ Warn(string, ...any) }) error {
	lastOK := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-checks:
		}
		// Give the server a moment to draw the label, then read back.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		err := ov.Check()
		if errors.Is(err, overlay.ErrNotShown) || errors.Is(err, overlay.ErrChanged) {
			continue // hidden again, or changed while being read: nothing to conclude
		}
		ok := err == nil
		detail := "mask covers the field"
		if !ok {
			detail = err.Error()
			log.Warn("overlay self-check failed", "err", err)
		}
		st.setSelfCheck(ok, detail)
		if ok != lastOK {
			_ = client.Send(ipc.Selfcheck{OK: ok, Detail: detail})
		}
		lastOK = ok
	}
}

type reportEvent struct {
	open bool
	ep   detect.Episode
}

// reporter hands the guard's episodes to the IPC client without blocking the key path.
type reporter struct {
	events  chan reportEvent
	dropped atomic.Int64
}

func (r *reporter) Open(ep detect.Episode)  { r.push(reportEvent{open: true, ep: ep}) }
func (r *reporter) Close(ep detect.Episode) { r.push(reportEvent{ep: ep}) }

func (r *reporter) push(e reportEvent) {
	select {
	case r.events <- e:
	default:
		r.dropped.Add(1)
	}
}

func (r *reporter) forward(ctx context.Context, c *ipc.Client, st *sessionState) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-r.events:
			var err error
			if e.open {
				st.pciOpened()
				err = c.Send(ipc.PCIOpen{Episode: e.ep.ID, Field: e.ep.Field, Rule: ruleName(e.ep), Kind: kind(e.ep.Trigger),
					Confirmed: e.ep.Checksum, At: e.ep.At.UTC()})
			} else {
				st.pciClosed()
				at := e.ep.ClosedAt
				if at.IsZero() {
					at = time.Now()
				}
				err = c.Send(ipc.PCIClose{Episode: e.ep.ID, At: at.UTC(), Reason: "cleared"})
			}
			if err != nil {
				st.log(err)
			}
		}
	}
}

func ruleName(ep detect.Episode) string {
	if ep.Trigger == detect.TriggerFieldRule {
		return ep.Field
	}
	return ""
}

// kind maps the detector's trigger to the protocol's detector kind.
func kind(t detect.Trigger) string {
	switch t {
	case detect.TriggerFieldRule:
		return "field"
	case detect.TriggerPAN:
		return "pan"
	case detect.TriggerPaste:
		return "paste"
	case detect.TriggerInherited:
		return "inherited"
	default:
		return "digits"
	}
}

// sessionState is what the tray shows: the service's last word plus local facts.
type sessionState struct {
	inherit   chan struct{} // Welcome said a dead helper left PCI windows open
	mu        sync.Mutex
	tray      *tray.Tray
	connected bool
	connErr   string
	svc       ipc.State
	agent     string
	pciOpen   int
	checkOK   bool
	checkSeen bool
	checkMsg  string
	lastErr   string
}

func (s *sessionState) connState(up bool, err error) {
	s.mu.Lock()
	s.connected = up
	s.connErr = ""
	if err != nil {
		s.connErr = err.Error()
	}
	s.mu.Unlock()
	s.refresh()
}

func (s *sessionState) message(m ipc.Msg) {
	s.mu.Lock()
	switch v := m.(type) {
	case ipc.Welcome:
		s.agent = v.AgentID
		if v.Inherited > 0 {
			select {
			case s.inherit <- struct{}{}:
			default:
			}
		}
	case ipc.State:
		s.svc = v
	case ipc.Error:
		s.lastErr = v.Msg
	}
	s.mu.Unlock()
	s.refresh()
}

func (s *sessionState) pciOpened() { s.mu.Lock(); s.pciOpen++; s.mu.Unlock(); s.refresh() }
func (s *sessionState) pciClosed() {
	s.mu.Lock()
	if s.pciOpen > 0 {
		s.pciOpen--
	}
	s.mu.Unlock()
	s.refresh()
}

func (s *sessionState) setSelfCheck(ok bool, detail string) {
	s.mu.Lock()
	changed := !s.checkSeen || s.checkOK != ok
	s.checkSeen, s.checkOK, s.checkMsg = true, ok, detail
	s.mu.Unlock()
	if changed {
		s.refresh()
	}
}

func (s *sessionState) log(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

// status derives the tray state; degraded wins, because the agent must see it.
func (s *sessionState) status() tray.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := tray.Status{Version: buildinfo.Version, Since: s.svc.Since, LastPauseReason: s.svc.LastPauseReason}
	switch {
	case !s.connected:
		st.State, st.Detail = tray.Degraded, "service unreachable: masking locally"
		if s.connErr != "" {
			st.Detail += " (" + s.connErr + ")"
		}
	case s.checkSeen && !s.checkOK:
		st.State, st.Detail = tray.Degraded, "overlay self-check failed: "+s.checkMsg
	case s.svc.Degraded:
		st.State, st.Detail = tray.Degraded, s.svc.Detail
	case s.svc.Paused:
		st.State, st.Detail = tray.PCIActive, "card data hidden; recording paused"
	case s.pciOpen > 0 && s.svc.Recording:
		st.State, st.Detail = tray.Degraded, "card data hidden; recording not yet paused"
	case s.svc.Recording:
		st.State, st.Detail = tray.Recording, "recording"
	default:
		st.State, st.Detail = tray.NotRecording, s.svc.Detail
	}
	return st
}

func (s *sessionState) refresh() {
	if s.tray != nil {
		s.tray.Set(s.status())
	}
}

// diagnostics is "Copy diagnostics": state without secrets or digits.
func (s *sessionState) diagnostics() string {
	st := s.status()
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("pcipause-session %s\nstate: %s since %s\ndetail: %s\nagent: %s\nservice connected: %v\nlast pause reason: %s\nself-check: %v %s\nlast error: %s\n",
		buildinfo.String(), st.State, st.Since.Format(time.RFC3339), st.Detail, s.agent, s.connected, s.svc.LastPauseReason,
		s.checkOK, s.checkMsg, s.lastErr)
}

// nopOverlay is the --unprotected baseline: nothing is ever drawn.
type nopOverlay struct{}

func (nopOverlay) Show(image.Rectangle, string) error { return nil }
func (nopOverlay) Move(image.Rectangle) error         { return nil }
func (nopOverlay) Hide() error                        { return nil }
func (nopOverlay) Check() error                       { return overlay.ErrNotShown }
func (nopOverlay) Close() error                       { return nil }
