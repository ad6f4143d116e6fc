//go:build linux

package main

import "time"

// Results is bench/results.json. Every duration is in milliseconds (suffix _ms) or
// microseconds (_us) or seconds (_s); sizes in bytes or MiB as named. A section that failed is
// absent and its error is listed in errors.
type Results struct {
	Started   time.Time `json:"started"`    // UTC start of the run
	DurationS float64   `json:"duration_s"` // wall time of the whole run
	Quick     bool      `json:"quick"`      // true for make bench-quick (a subset)
	Machine   Machine   `json:"machine"`
	Errors    []string  `json:"errors,omitempty"` // sections that failed, with the reason

	CaptureGap  *GapResult        `json:"capture_gap,omitempty"`
	MaskLatency *MaskResult       `json:"mask_latency,omitempty"`
	Controller  *ControllerResult `json:"controller,omitempty"`
	Footprint   *FootprintResult  `json:"footprint,omitempty"`
	Resilience  *ResilienceResult `json:"resilience,omitempty"`
}

// Machine is where the numbers were taken.
type Machine struct {
	OS       string  `json:"os"`
	Arch     string  `json:"arch"`
	Distro   string  `json:"distro"`
	CPU      string  `json:"cpu"`
	CPUs     int     `json:"cpus"`
	MemGiB   float64 `json:"mem_gib"`
	Go       string  `json:"go"`
	LoadAvg1 float64 `json:"loadavg_1m_at_start"` // the machines are shared: context for the numbers
}

// Quantiles summarises a latency sample.
type Quantiles struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// quantiles computes Quantiles of d (sorted in place).
func quantiles(d []time.Duration) Quantiles {
	if len(d) == 0 {
		return Quantiles{}
	}
	sortDurations(d)
	q := func(p float64) float64 { return ms(d[int(p*float64(len(d)-1))]) }
	return Quantiles{N: len(d), P50Ms: q(0.5), P90Ms: q(0.9), P99Ms: q(0.99), MaxMs: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
