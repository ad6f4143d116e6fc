package controller

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"pcipause/daemon/cxone"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/store"
)

// wireTap is a listener that notes when the first byte of each pause request arrives.
type wireTap struct {
	net.Listener
	mu     sync.Mutex
	pauses []time.Time
}

func (w *wireTap) Accept() (net.Conn, error) {
	c, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, tap: w}, nil
}

type tapConn struct {
	net.Conn
	tap      *wireTap
	prev     []byte    // the last bytes read, so a request line split across reads is seen
	prevTime time.Time // when they arrived
}

// Read notes the arrival of every pause request line. net/http's server reads one byte ahead
// between requests, so the line often arrives split: "P", then "UT /…/pause HTTP/1.1".
func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		now := time.Now()
		buf := append(append([]byte(nil), c.prev...), p[:n]...)
		if i := bytes.Index(buf, []byte("PUT ")); i >= 0 && bytes.Contains(buf[i:min(len(buf), i+200)], []byte("/pause")) {
			at := now
			if i < len(c.prev) {
				at = c.prevTime
			}
			c.tap.mu.Lock()
			c.tap.pauses = append(c.tap.pauses, at)
			c.tap.mu.Unlock()
			buf = buf[:0] // consumed
		}
		c.prev = append(c.prev[:0], buf[max(0, len(buf)-3):]...)
		c.prevTime = now
	}
	return n, err
}

func (w *wireTap) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pauses)
}

func (w *wireTap) at(i int) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pauses[i]
}

// BenchmarkDecisionLatency measures a PCI event (Controller.Open) to the first byte of the
// pause request arriving at the in-process simulator, with the agent's recordings already
// listed (the service refreshes an agent when its helper connects). "fsync" commits the
// intent durably first, as shipped; "nosync" skips the fsync to show the controller's own
// share.
func BenchmarkDecisionLatency(b *testing.B) {
	for _, nosync := range []bool{false, true} {
		name := "fsync"
		if nosync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			sim := cxonesim.New(cxonesim.Options{RateLimit: -1, Log: slog.New(slog.DiscardHandler)})
			demo := sim.SeedDemo()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			tap := &wireTap{Listener: ln}
			srv := &http.Server{Handler: sim.Handler()}
			go srv.Serve(tap)
			defer srv.Close()
			base := "http://" + ln.Addr().String()
			be, err := cxone.New(cxone.Options{Backend: cxone.BackendWEMv1, BaseURL: base + "/api/wem/v1",
				TokenURL: base + "/oauth2/token", ClientID: demo.ClientID, ClientSecret: demo.ClientSecret}, nil)
			if err != nil {
				b.Fatal(err)
			}
			st, err := store.Open(filepath.Join(b.TempDir(), store.FileName), store.Options{NoSync: nosync}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			cfg := fastConfig()
			cfg.RefreshInterval, cfg.PollIntervalPaused, cfg.PollInterval = time.Hour, time.Hour, time.Hour
			c := New(st, be, cfg, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			defer func() { cancel(); <-done }()

			agents := make([]string, b.N)
			recs := make([]string, b.N)
			for i := range agents {
				agents[i] = fmt.Sprintf("lat-%d", i)
				recs[i] = sim.StartRecording(sim.StartInteraction(agents[i]))
				if err := c.Refresh(ctx, agents[i]); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			opens := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				before := tap.count()
				t0 := time.Now()
				if err := c.Open(ctx, Open{AgentID: agents[i], Episode: "e", Field: "credit_card_number", Reason: ReasonPCIDetected}); err != nil {
					b.Fatal(err)
				}
				opens = append(opens, time.Since(t0))
				for wait := time.Now(); tap.count() == before; {
					if time.Since(wait) > 20*time.Second {
						s := c.Snapshot()
						st, _ := sim.RecordingStatus(recs[i])
						var mine []TargetState
						for _, x := range s.Targets {
							if x.Target.AgentID == agents[i] {
								mine = append(mine, x)
							}
						}
						b.Fatalf("no pause on the wire for %s: sim says %s; controller: %+v queue=%d last error %q", agents[i], st, mine, s.QueueDepth, s.LastError)
					}
					time.Sleep(20 * time.Microsecond)
				}
				lat = append(lat, tap.at(before).Sub(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
			b.ReportMetric(float64(q(0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(q(0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
			sort.Slice(opens, func(i, j int) bool { return opens[i] < opens[j] })
			b.ReportMetric(float64(opens[len(opens)/2].Microseconds()), "commit-p50-µs")
		})
	}
}
