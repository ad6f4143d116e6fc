//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// reporter is implemented by each section's result: it draws its plots into b.Out and returns
// its part of REPORT.md (starting with a "## " heading).
type reporter interface {
	report(b *Bench) (string, error)
}

// writeReport writes bench/REPORT.md: the machine, the targets table, then every section.
func writeReport(b *Bench, r *Results) error {
	var w strings.Builder
	fmt.Fprintf(&w, "# pcipause benchmark report\n\n")
	kind := "full run (`make bench`)"
	if r.Quick {
		kind = "quick run (`make bench-quick`, a subset)"
	}
	m := r.Machine
	fmt.Fprintf(&w, "%s, started %s, took %.0f s.\n\n", kind, r.Started.Format("2006-01-02 15:04 UTC"), r.DurationS)
	fmt.Fprintf(&w, "Machine: %s, %s/%s, %d × %s, %.0f GiB RAM, %s; load average %.2f at start (a shared machine: read the tails with that in mind).\n\n",
		m.Distro, m.OS, m.Arch, m.CPUs, m.CPU, m.MemGiB, m.Go, m.LoadAvg1)
	fmt.Fprintf(&w, "Every figure below is measured in this run; the raw material (videos, worst frames, logs) is in `%s/` and not committed. Keys of `results.json` are documented in `e2e/bench/results.go`.\n\n", filepath.Base(b.Raw))
	if len(r.Errors) > 0 {
		fmt.Fprintf(&w, "**Sections that failed in this run:**\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&w, "- %s\n", e)
		}
		w.WriteString("\n")
	}
	w.WriteString(targets(r))
	for _, s := range []reporter{r.CaptureGap, r.MaskLatency, r.Controller, r.Footprint, r.Resilience} {
		if isNil(s) {
			continue
		}
		md, err := s.report(b)
		if err != nil {
			md = fmt.Sprintf("(report failed: %v)\n", err)
		}
		w.WriteString(md)
		w.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(b.Out, "REPORT.md"), []byte(w.String()), 0o644)
}

func isNil(r reporter) bool {
	switch v := r.(type) {
	case *GapResult:
		return v == nil
	case *MaskResult:
		return v == nil
	case *ControllerResult:
		return v == nil
	case *FootprintResult:
		return v == nil
	case *ResilienceResult:
		return v == nil
	}
	return r == nil
}

// target is one row of the targets table.
type target struct {
	what, goal, got string
	met             bool
	known           bool
}

// targets is the table of the targets, each reported whether met or not.
func targets(r *Results) string {
	var rows []target
	if g := r.CaptureGap; g != nil {
		rows = append(rows, g.targets()...)
	}
	if m := r.MaskLatency; m != nil {
		rows = append(rows, m.targets()...)
	}
	if c := r.Controller; c != nil {
		rows = append(rows, c.targets()...)
	}
	if f := r.Footprint; f != nil {
		rows = append(rows, f.targets()...)
	}
	if s := r.Resilience; s != nil {
		rows = append(rows, s.targets()...)
	}
	var w strings.Builder
	w.WriteString("## Targets\n\n| what | target | measured | met |\n|---|---|---|---|\n")
	for _, t := range rows {
		met := "no"
		if t.met {
			met = "yes"
		}
		if !t.known {
			met = "n/a"
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s |\n", t.what, t.goal, t.got, met)
	}
	w.WriteString("\n")
	return w.String()
}
