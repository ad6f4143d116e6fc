package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"pcipause/daemon/cxone/cxonesim"
)

func init() {
	register(&command{name: "sim",
		short: "run the CXone simulator with a demo tenant; prints one JSON line [--addr A] [--tls]",
		run:   runSim})
}

// simInfo is the one JSON line `pcipause sim` prints: everything a client or test needs.
type simInfo struct {
	BaseURL         string `json:"base_url"`
	TokenURL        string `json:"token_url"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	AgentID         string `json:"agent_id"`
	InteractionID   string `json:"interaction_id"`
	RecordingID     string `json:"recording_id"`
	ControlURL      string `json:"control_url"`
	CAFile          string `json:"ca_file,omitempty"`
	DiscoveryURL    string `json:"discovery_url"`
	TenantID        string `json:"tenant_id"`
	APIEndpoint     string `json:"api_endpoint"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	UserID          string `json:"user_id"`
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only: the control API has no authentication)")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a fresh self-signed certificate (written to ca_file)")
	tenant := fs.String("tenant", "sim-tenant", "tenant id answered by .well-known/cxone-configuration")
	lifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of issued tokens")
	purge := fs.Duration("purge-after", 5*time.Minute, "ended recordings answer 404 after this")
	maskDelay := fs.Duration("mask-delay", 0, "cxone-mask: how long a mask/unmask stays processing (202, then 425 on overlap)")
	rate := fs.Float64("rate", 50, "org-wide API calls per second (negative: unlimited)")
	burst := fs.Int("burst", 100, "org-wide token bucket size")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sim: unexpected argument %q", fs.Arg(0))
	}
	if err := loopbackAddr(*addr); err != nil {
		return fmt.Errorf("sim: --addr: %w", err)
	}
	lvl := slog.LevelInfo
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	s := cxonesim.New(cxonesim.Options{Addr: *addr, TLS: *useTLS, TenantID: *tenant, TokenLifetime: *lifetime,
		PurgeAfter: *purge, MaskDelay: *maskDelay, RateLimit: *rate, RateBurst: *burst, Log: log})
	if err := s.Start(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	defer s.Close()
	d := s.SeedDemo()
	info := simInfo{BaseURL: s.BaseURL(), TokenURL: s.TokenURL(), ClientID: d.ClientID, ClientSecret: d.ClientSecret,
		AgentID: d.AgentID, InteractionID: d.InteractionID, RecordingID: d.RecordingID, ControlURL: s.ControlURL(),
		DiscoveryURL: s.URL(), TenantID: s.TenantID(), APIEndpoint: s.URL(), AccessKeyID: d.AccessKeyID,
		AccessKeySecret: d.AccessKeySecret, UserID: d.AgentID}
	if *useTLS {
		dir, err := os.MkdirTemp("", "pcipause-sim-")
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		defer os.RemoveAll(dir)
		info.CAFile = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(info.CAFile, s.CACertPEM(), 0o644); err != nil {
			return fmt.Errorf("sim: writing ca_file: %w", err)
		}
	}
	line, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	log.Info("simulator running; interrupt to stop", "url", s.URL())
	<-ctx.Done()
	return nil
}

func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}
