//go:build linux

package main

import (
	"fmt"
	"image/color"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The plots are PNGs next to REPORT.md, 16 cm × 9 cm.

// series is one named line or bar group.
type series struct {
	Name string
	X, Y []float64
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// hline is a dashed horizontal reference line (a target).
type hline struct {
	Name string
	Y    float64
}

// plotLines draws each series as a line with points; refs are dashed horizontal lines.
func plotLines(path, title, xlabel, ylabel string, logX bool, ss []series, refs ...hline) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = true
	for i, s := range ss {
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j], s.Y[j]
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		c := palette[i%len(palette)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	addRefs(p, ss, refs)
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, path)
}

func addRefs(p *plot.Plot, ss []series, refs []hline) {
	if len(refs) == 0 {
		return
	}
	lo, hi := 0.0, 1.0
	first := true
	for _, s := range ss {
		for _, x := range s.X {
			if first || x < lo {
				lo = x
			}
			if first || x > hi {
				hi = x
			}
			first = false
		}
	}
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: r.Y}, {X: hi, Y: r.Y}})
		if err != nil {
			continue
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.Gray{Y: 0x60}
		p.Add(l)
		p.Legend.Add(r.Name, l)
	}
}

// plotCDF draws the empirical CDF of each sample (milliseconds) on a log x axis.
func plotCDF(path, title string, samples map[string][]float64, refs ...float64) error {
	var names []string
	for n := range samples {
		names = append(names, n)
	}
	sort.Strings(names)
	var ss []series
	for _, n := range names {
		v := slices.Clone(samples[n])
		slices.Sort(v)
		s := series{Name: fmt.Sprintf("%s (n=%d)", n, len(v))}
		for i, x := range v {
			s.X = append(s.X, max(x, 0.001))
			s.Y = append(s.Y, float64(i+1)/float64(len(v)))
		}
		ss = append(ss, s)
	}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, "milliseconds (log scale)", "fraction of triggers ≤ x"
	p.Add(plotter.NewGrid())
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	for i, s := range ss {
		xy := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xy[j].X, xy[j].Y = s.X[j], s.Y[j]
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: r, Y: 0}, {X: r, Y: 1}})
		if err != nil {
			continue
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.Gray{Y: 0x60}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%g ms", r), l)
	}
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, path)
}

// plotBars draws grouped bars: one group per category, one bar per series (Y indexed like
// categories). refs are dashed horizontal lines.
func plotBars(path, title, ylabel string, categories []string, ss []series, refs ...hline) error {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	w := vg.Points(float64(60) / float64(max(len(ss), 1)))
	for i, s := range ss {
		b, err := plotter.NewBarChart(plotter.Values(s.Y), w)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.Name, b)
	}
	p.NominalX(categories...)
	top := 0.0
	for _, s := range ss {
		for _, y := range s.Y {
			top = max(top, y)
		}
	}
	for _, r := range refs {
		top = max(top, r.Y)
	}
	p.Y.Min, p.Y.Max = 0, top*1.45+1 // room for the legend above the bars
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: r.Y}, {X: float64(len(categories)) - 0.5, Y: r.Y}})
		if err != nil {
			continue
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.Gray{Y: 0x60}
		p.Add(l)
		p.Legend.Add(r.Name, l)
	}
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, path)
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// msSamples converts durations to milliseconds.
func msSamples(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = ms(x)
	}
	return out
}
