package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"pcipause/daemon/config"
	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/ipc"
	"pcipause/daemon/server"
)

func init() {
	register(&command{name: "local", short: "run simulator, service and a session helper on $DISPLAY (development, demo)",
		run: runLocal})
}

// localInfo is the first line `pcipause local` prints: the simulator's tenant, as `pcipause
// sim` prints it, plus where the local service keeps its files.
type localInfo struct {
	SimURL        string `json:"base_url"`
	TokenURL      string `json:"token_url"`
	ControlURL    string `json:"control_url"`
	DiscoveryURL  string `json:"discovery_url"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	AgentID       string `json:"agent_id"`
	InteractionID string `json:"interaction_id"`
	RecordingID   string `json:"recording_id"`
	Backend       string `json:"backend"`
	StateDir      string `json:"state_dir"`
	Socket        string `json:"socket"`
	Config        string `json:"config"`
	LogFile       string `json:"log_file"`
}

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	readyFile := fs.String("ready-file", "", "write this file once masking is live")
	backend := fs.String("backend", cxone.BackendWEMv1, "CXone back end the simulator serves: wem-v1 or cxone-mask")
	stateDir := fs.String("state-dir", "", "keep state, socket, config and log here (default: a temporary directory, removed at exit)")
	apiLatency := fs.String("api-latency", "", "simulated CXone round trip added to every API answer: a duration (250ms) or a range drawn uniformly per call (150ms-400ms)")
	unprotected := fs.Bool("unprotected", false, "benchmarks only: the helper never masks (API pause alone)")
	noTray := fs.Bool("no-tray", false, "session helper without tray icon")
	helperPath := fs.String("session-binary", "", "pcipause-session executable (default: next to this one, else $PATH)")
	helperNice := fs.Int("helper-nice", config.Default().Overlay.HelperNice, "nice value given to the session helper, -20..0 (0: leave it alone; needs root)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *backend != cxone.BackendWEMv1 && *backend != cxone.BackendMask {
		return fmt.Errorf("local: --backend %q: want wem-v1 or cxone-mask", *backend)
	}
	latMin, latMax, err := parseLatency(*apiLatency)
	if err != nil {
		return fmt.Errorf("local: --api-latency: %w", err)
	}
	dir := *stateDir
	if dir == "" {
		d, err := os.MkdirTemp("", "pcipause-local-")
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	logPath := filepath.Join(dir, "pcipause.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logFile, stderr), &slog.HandlerOptions{Level: slog.LevelInfo}))

	sim := cxonesim.New(cxonesim.Options{Log: log.With("component", "cxonesim"), PurgeAfter: time.Hour})
	if err := sim.Start(); err != nil {
		return fmt.Errorf("local: simulator: %w", err)
	}
	defer sim.Close()
	demo := sim.SeedDemo()
	if latMax > 0 {
		sim.SetFaults(cxonesim.Faults{Latency: latMin, LatencyMax: latMax})
	}
	agent := demo.AgentID
	if *backend == cxone.BackendMask {
		agent = demo.AgentID // the access key acts as this user
	}

	u, err := user.Current()
	if err != nil {
		return fmt.Errorf("local: current user: %w", err)
	}
	cfg := config.Default()
	cfg.CXone.Backend = *backend
	cfg.CXone.ClientID = demo.ClientID
	cfg.CXone.TokenURL = sim.TokenURL()
	if *backend == cxone.BackendWEMv1 {
		cfg.CXone.BaseURL = sim.BaseURL()
	} else {
		cfg.CXone.DiscoveryURL = sim.URL()
		cfg.CXone.TenantID = sim.TenantID()
		cfg.CXone.AccessKeyID = demo.AccessKeyID
	}
	cfg.Agents.Mapping = config.MappingStatic
	cfg.Agents.Users = map[string]string{u.Username: agent}
	cfg.Paths.StateDir = filepath.Join(dir, "state")
	cfg.Paths.LogDir = dir
	cfg.Paths.Socket = filepath.Join(dir, "ipc.sock")
	cfg.Controller.PollIntervalPaused = config.Dur(time.Second)
	cfg.Overlay.HelperNice = *helperNice
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	cfgPath := filepath.Join(dir, "pcipause.toml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		return err
	}

	be, err := cxone.New(cxone.Options{Backend: *backend, BaseURL: cfg.CXone.BaseURL, TokenURL: cfg.CXone.TokenURL,
		ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, AccessKeyID: demo.AccessKeyID,
		AccessKeySecret: demo.AccessKeySecret, TenantID: cfg.CXone.TenantID, DiscoveryURL: cfg.CXone.DiscoveryURL,
		HTTPClient: sim.Client()}, log)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}

	info := localInfo{SimURL: sim.BaseURL(), TokenURL: sim.TokenURL(), ControlURL: sim.ControlURL(), DiscoveryURL: sim.URL(),
		ClientID: demo.ClientID, ClientSecret: demo.ClientSecret, AgentID: demo.AgentID, InteractionID: demo.InteractionID,
		RecordingID: demo.RecordingID, Backend: *backend, StateDir: cfg.Paths.StateDir, Socket: cfg.Paths.Socket, Config: cfgPath, LogFile: logPath}
	line, _ := json.Marshal(info)
	fmt.Fprintln(stdout, string(line))

	bin, err := sessionBinary(*helperPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	ready := make(chan struct{})
	g.Go(func() error {
		return server.Run(gctx, server.Options{Config: cfg, Backend: be, Log: log,
			Authorizer: ipc.AllowUIDs(os.Getuid()), NoSupervise: true, HelperExe: bin, Ready: func() { close(ready) }})
	})
	select {
	case <-ready:
	case <-gctx.Done():
		return g.Wait()
	}
	helperArgs := []string{"--config", cfgPath, "--socket", cfg.Paths.Socket}
	if *unprotected {
		helperArgs = append(helperArgs, "--unprotected")
	}
	if *noTray {
		helperArgs = append(helperArgs, "--no-tray")
	}
	g.Go(func() error { return babysit(gctx, bin, helperArgs, *readyFile, logFile, stderr, log) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// parseLatency reads "" (none), "250ms" or "150ms-400ms".
func parseLatency(s string) (lo, hi time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(a); err != nil || lo < 0 {
		return 0, 0, fmt.Errorf("%q: want a duration such as 250ms or a range such as 150ms-400ms", s)
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("%q: the range's upper end must be a duration not below its lower end", s)
		}
	}
	return lo, hi, nil
}

func writeConfig(path string, cfg *config.Config) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("local: config: %w", err)
	}
	if err := cfg.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("local: config: %w", err)
	}
	return f.Close()
}

func sessionBinary(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "pcipause-session")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("pcipause-session")
	if err != nil {
		return "", errors.New("local: pcipause-session not found next to pcipause or in $PATH (make build)")
	}
	return p, nil
}

// babysit runs the session helper and restarts it with backoff when it dies, as the desktop
// session's autostart (systemd user unit, Restart=always) does in production. It gives up
// loudly after repeated fast crashes.
func babysit(ctx context.Context, bin string, args []string, readyFile string, logw io.Writer, stderr io.Writer, log *slog.Logger) error {
	backoff := 200 * time.Millisecond
	fast := 0
	for {
		a := args
		if readyFile != "" {
			a = append(append([]string{}, args...), "--ready-file", readyFile)
		}
		cmd := exec.Command(bin, a...)
		cmd.Stdout = io.MultiWriter(logw, stderr)
		cmd.Stderr = io.MultiWriter(logw, stderr)
		cmd.SysProcAttr = helperProcAttr()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("local: start session helper: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			return nil
		case err := <-done:
			log.Warn("session helper exited; restarting", "err", err, "after", time.Since(start).Round(time.Millisecond))
			if time.Since(start) > 10*time.Second {
				fast, backoff = 0, 200*time.Millisecond
			} else if fast++; fast >= 5 {
				return fmt.Errorf("local: session helper crashed %d times in a row: %v", fast, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}
