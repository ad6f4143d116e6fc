package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"pcipause/daemon/config"
	"pcipause/daemon/ipc"
	"pcipause/daemon/server"
	"pcipause/daemon/svcctl"
)

func init() {
	register(&command{name: "status", short: "show the service, its session helpers, open PCI windows and paused recordings",
		run: runStatus})
}

// statusDoc is `pcipause status --json`: the service manager's view plus, when the service
// answers, its own status document (server.Status).
type statusDoc struct {
	Manager string         `json:"manager_state"` // running, stopped, not-installed, unknown
	Reached bool           `json:"reachable"`     // the service answered on its IPC endpoint
	Error   string         `json:"error,omitempty"`
	Service *server.Status `json:"status,omitempty"`
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the status document as JSON")
	cfgPath := fs.String("config", "", "config file (default "+config.DefaultPath()+")")
	socket := fs.String("socket", "", "IPC endpoint (default paths.socket from the config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *socket
	if path == "" {
		p := *cfgPath
		if p == "" {
			p = config.DefaultPath()
		}
		cfg, err := config.Load(p)
		switch {
		case err == nil:
			path = cfg.Paths.Socket
		case *cfgPath == "" && errors.Is(err, os.ErrNotExist):
			path = config.Default().Paths.Socket
		default:
			return err
		}
	}
	doc := statusDoc{Manager: "unknown"}
	if c, err := svcctl.New(svcctl.Options{}); err == nil {
		if st, err := c.State(ctx); err == nil {
			doc.Manager = st.String()
		}
	}
	st, err := queryStatus(ctx, path)
	if err != nil {
		doc.Error = err.Error()
	} else {
		doc.Reached, doc.Service = true, st
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		printStatus(stdout, doc)
	}
	if !doc.Reached {
		return &exitError{code: 3, err: errors.New("")}
	}
	return nil
}

func queryStatus(ctx context.Context, path string) (*server.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("service not reachable at %s: %w", path, err)
	}
	defer c.Close()
	if err := c.Send(ipc.StatusRequest{}); err != nil {
		return nil, fmt.Errorf("status request: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("status reply: %w", err)
	}
	switch v := m.(type) {
	case ipc.Status:
		var st server.Status
		if err := json.Unmarshal(v.Status, &st); err != nil {
			return nil, fmt.Errorf("status reply: %w", err)
		}
		return &st, nil
	case ipc.Error:
		return nil, fmt.Errorf("service refused: %s", v.Msg)
	default:
		return nil, fmt.Errorf("status reply: unexpected %s", m.Type())
	}
}

func printStatus(w io.Writer, d statusDoc) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "service manager:\t%s\n", d.Manager)
	if !d.Reached {
		fmt.Fprintf(tw, "service:\tnot reachable (%s)\n", d.Error)
		return
	}
	s := d.Service
	state := "ok"
	if s.Degraded {
		state = "DEGRADED"
	}
	fmt.Fprintf(tw, "service:\t%s, pid %d, version %s, up %s, back end %s\n", state, s.Service.PID, s.Service.Version,
		(time.Duration(s.Service.UptimeSeconds) * time.Second).String(), s.Service.Backend)
	fmt.Fprintf(tw, "session helpers:\t%d\n", len(s.Helpers))
	for _, h := range s.Helpers {
		fmt.Fprintf(tw, "  %s\tpid %d, session %s, agent %s, last heartbeat %s ago\n", h.User, h.PID, h.Session,
			orDash(h.AgentID), time.Since(h.LastHeartbeat).Round(time.Second))
	}
	fmt.Fprintf(tw, "open PCI windows:\t%d\n", len(s.PCIWindows))
	for _, win := range s.PCIWindows {
		fmt.Fprintf(tw, "  agent %s\t%s since %s (%s)\n", win.AgentID, orDash(win.Field), win.Since.Local().Format(time.TimeOnly), win.Reason)
	}
	var paused []string
	for _, t := range s.Targets {
		if t.PausedByUs {
			paused = append(paused, t.Target.String())
		}
	}
	fmt.Fprintf(tw, "paused by pcipause:\t%d %s\n", len(paused), strings.Join(paused, " "))
	fmt.Fprintf(tw, "intent queue:\t%d\n", s.QueueDepth)
	fmt.Fprintf(tw, "rate limit:\t%.1f/s burst %d, %.1f tokens\n", s.RateLimit.Rate, s.RateLimit.Burst, s.RateLimit.Tokens)
	if s.LastError != nil {
		fmt.Fprintf(tw, "last CXone error:\t%s (%s)\n", s.LastError.Message, s.LastError.At.Local().Format(time.DateTime))
	}
	if s.SelfCheck != nil {
		fmt.Fprintf(tw, "last self-check:\tok=%v %s (%s)\n", s.SelfCheck.OK, s.SelfCheck.Detail, s.SelfCheck.At.Local().Format(time.DateTime))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
