package server

import (
	"slices"
	"testing"
	"time"

	"pcipause/daemon/config"
	"pcipause/daemon/cxone/cxonesim"
	"pcipause/daemon/ipc"
)

// BenchmarkPCIOpenToPauseOnWire measures the service side of "key event → pause request on
// the wire": from the helper handing pci_open to its IPC client to the simulator receiving
// the PUT …/pause, over the real unix socket, store commit (fsync) and HTTP client. Each
// iteration also closes the window and waits for the resume, so every pause is a real one.
// The host's token bucket is raised so that it measures latency, not the configured budget.
//
//	go test -run '^$' -bench PCIOpenToPause -benchtime 100x ./daemon/server
func BenchmarkPCIOpenToPauseOnWire(b *testing.B) {
	// The host's token bucket (default 5 calls/s) would otherwise dominate: each iteration makes
	// about five calls (list, pause, get, resume, ...).
	r := newRigTB(b, func(c *config.Config) { c.Controller.Rate, c.Controller.Burst = 1000, 100 })
	h := r.connectHelper()
	defer h.close()
	r.waitFor("recording", func() bool { return r.status() == cxonesim.Recording })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ep := uint64(i + 1)
		if err := h.c.Send(ipc.PCIOpen{Episode: ep, Field: "credit_card_number", Kind: "pan", Confirmed: true, At: start}); err != nil {
			b.Fatal(err)
		}
		var got time.Time
		r.waitFor("pause", func() bool {
			c, ok := r.lastCall("pause")
			if ok && c.Time.After(start) {
				got = c.Time
				return true
			}
			return false
		})
		lat = append(lat, got.Sub(start))
		if err := h.c.Send(ipc.PCIClose{Episode: ep, At: time.Now(), Reason: "cleared"}); err != nil {
			b.Fatal(err)
		}
		r.waitFor("resume", func() bool { return r.status() == cxonesim.Recording })
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50_ms")
	b.ReportMetric(q(0.99), "p99_ms")
	b.ReportMetric(q(1), "max_ms")
}
