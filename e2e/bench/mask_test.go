//go:build linux

package main

import (
	"image"
	"strings"
	"testing"
	"time"
)

// maskTestShot builds a BGRX grab of r where black(x, y) says which pixels are black (the rest white).
func maskTestShot(r image.Rectangle, black func(x, y int) bool) maskShot {
	s := maskShot{r: r, data: make([]byte, r.Dx()*r.Dy()*4)}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if !black(x, y) {
				i := ((y-r.Min.Y)*r.Dx() + (x - r.Min.X)) * 4
				s.data[i], s.data[i+1], s.data[i+2] = 0xff, 0xff, 0xff
			}
		}
	}
	return s
}

func TestMaskAllBlack(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"empty", nil, false},
		{"black", []byte{0, 0, 0, 0, 0, 0, 0, 0}, true},
		{"black, padding byte set", []byte{0, 0, 0, 0xff, 0, 0, 0, 0xff}, true},
		{"one blue pixel", []byte{0, 0, 0, 0, 1, 0, 0, 0}, false},
		{"one red pixel", []byte{0, 0, 0, 0, 0, 0, 1, 0}, false},
	} {
		if got := maskAllBlack(tc.data); got != tc.want {
			t.Errorf("%s: maskAllBlack = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMaskPickRegion(t *testing.T) {
	screen := image.Rect(0, 0, 200, 120)
	mask := image.Rect(20, 20, 180, 100)
	label := image.Rect(60, 50, 140, 70) // white text in the mask's middle
	text := image.Rect(20, 20, 100, 40)  // black text of the app under the mask's top left
	pre := maskTestShot(screen, func(x, y int) bool { return image.Pt(x, y).In(text) })
	shown := maskTestShot(mask, func(x, y int) bool { return !image.Pt(x, y).In(label) })
	app := image.Rect(10, 10, 190, 110)

	got, ok := maskPickRegion(pre, shown, app, 16)
	if !ok {
		t.Fatal("no region found")
	}
	if got.Dx() != 16 || got.Dy() != 16 || !got.In(mask) || got.Overlaps(label) || got.Overlaps(text) {
		t.Errorf("region %v: want 16×16 inside %v, clear of the label %v and the app's text %v", got, mask, label, text)
	}

	// Preferred area first: a region inside the app window when one fits.
	small := image.Rect(120, 20, 180, 100)
	got, ok = maskPickRegion(pre, shown, small, 16)
	if !ok || !got.In(small) {
		t.Errorf("region %v, %v: want one inside the preferred %v", got, ok, small)
	}

	// A mask that is never all black (label everywhere) has no region.
	grey := maskTestShot(mask, func(x, y int) bool { return false })
	if got, ok := maskPickRegion(pre, grey, app, 16); ok {
		t.Errorf("region %v picked in a mask with no black", got)
	}
	// Nor one whose screen was black before the mask.
	dark := maskTestShot(screen, func(x, y int) bool { return true })
	if got, ok := maskPickRegion(dark, shown, app, 16); ok {
		t.Errorf("region %v picked where the screen was black already", got)
	}
}

func TestMaskStatusKB(t *testing.T) {
	status := "Name:\tpcipause-sessio\nVmPeak:\t 1240000 kB\nVmHWM:\t   13400 kB\nVmRSS:\t   11520 kB\nThreads:\t10\n"
	for _, tc := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{"VmRSS", 11520, true},
		{"VmHWM", 13400, true},
		{"Threads", 0, false}, // no unit
		{"VmSwap", 0, false},  // absent
		{"RSS", 0, false},     // a key is matched whole
	} {
		got, ok := maskStatusKB(status, tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("maskStatusKB(%s) = %d, %v; want %d, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMaskSchedWait(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Duration
	}{
		{"2892637 3766116 10\n", 3766116},
		{"1 2", 2},
		{"", 0},
		{"12", 0},
		{"1 x 3", 0},
	} {
		if got := maskSchedWait(tc.line); got != tc.want {
			t.Errorf("maskSchedWait(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestMaskCensoredQuantile(t *testing.T) {
	msd := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		hits   []time.Duration
		misses int
		p      float64
		want   time.Duration
		ok     bool
	}{
		{"none", nil, 0, 0.99, 0, false},
		{"all missed", nil, 3, 0.5, 0, false},
		{"unsorted hits", msd(3, 1, 2), 0, 0.5, 2 * time.Millisecond, true},
		{"p99 of 100 hits", msd(hundred...), 0, 0.99, 99 * time.Millisecond, true},
		{"one miss in 100 stays below p99", msd(hundred[:99]...), 1, 0.99, 99 * time.Millisecond, true},
		{"two misses in 100 reach p99", msd(hundred[:98]...), 2, 0.99, 0, false},
	} {
		got, ok := maskCensoredQuantile(tc.hits, tc.misses, tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMaskSummariseAndTargets(t *testing.T) {
	m := &MaskResult{TimeoutMs: 1000}
	for i := 0; i < 97; i++ {
		m.samples = append(m.samples, maskSample{mapped: time.Millisecond, visible: 2 * time.Millisecond,
			grab: 500 * time.Microsecond, hidden: 81 * time.Millisecond})
	}
	m.samples = append(m.samples,
		maskSample{mapped: 20 * time.Millisecond, visible: 21 * time.Millisecond, runq: 15 * time.Millisecond}, // starved
		maskSample{mapped: 8 * time.Millisecond, visible: 9 * time.Millisecond},                                // not starved
		maskSample{missMapped: true, missVisible: true},
		maskSample{early: true},
	)
	m.summarise()
	if m.Triggers != 101 || m.Early != 1 || m.MissedMapped != 1 || m.MissedVisible != 1 {
		t.Errorf("triggers %d early %d missed %d/%d; want 101, 1, 1/1", m.Triggers, m.Early, m.MissedMapped, m.MissedVisible)
	}
	if m.Mapped.N != 99 || m.Mapped.P50Ms != 1 || m.Mapped.MaxMs != 20 {
		t.Errorf("mapped quantiles %+v", m.Mapped)
	}
	if m.MappedOver5 != 3 || m.MappedOver15 != 2 || m.VisibleOver5 != 3 || m.VisibleOver15 != 2 {
		t.Errorf("over 5/15 ms: mapped %d/%d visible %d/%d; want 3/2 and 3/2 (misses count)",
			m.MappedOver5, m.MappedOver15, m.VisibleOver5, m.VisibleOver15)
	}
	if m.SlowStarved != 1 {
		t.Errorf("slow and starved %d, want 1", m.SlowStarved)
	}
	if m.Hidden.N != 97 {
		t.Errorf("hidden n %d, want 97", m.Hidden.N)
	}
	ts := m.targets()
	if len(ts) != 2 {
		t.Fatalf("%d targets, want 2", len(ts))
	}
	for _, tg := range ts {
		if !tg.known || tg.met {
			t.Errorf("%s: known %v met %v; want known and not met (p99 is 20 ms)", tg.what, tg.known, tg.met)
		}
		if !strings.Contains(tg.got, "1 missed") {
			t.Errorf("%s: %q does not report the miss", tg.what, tg.got)
		}
	}
}

func TestMaskDrift(t *testing.T) {
	var ss []maskSample
	for i := 0; i < 100; i++ {
		ss = append(ss, maskSample{mapped: time.Duration(i+1) * time.Millisecond, visible: time.Duration(i+2) * time.Millisecond})
	}
	d := maskDrift(ss, 10)
	if len(d) != 4 {
		t.Fatalf("%d series, want 4", len(d))
	}
	for _, s := range d {
		if len(s.X) != 10 || s.X[9] != 100 {
			t.Errorf("%s: x %v, want 10 windows ending at 100", s.Name, s.X)
		}
	}
	if d[0].Y[0] != 5 || d[0].Y[9] != 95 {
		t.Errorf("mapped p50 per window %v", d[0].Y)
	}
	if maskDrift(ss[:5], 10) != nil {
		t.Error("drift of fewer samples than windows")
	}
}

func TestMaskFmt(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0.731, "731 µs"},
		{4.114, "4.11 ms"},
		{17.26, "17.3 ms"},
		{1000, "1000 ms"},
	} {
		if got := maskFmt(tc.v); got != tc.want {
			t.Errorf("maskFmt(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestMaskCmdline(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    bool
	}{
		{"Xvfb\x00:41\x00-nolisten\x00tcp\x00", true},
		{"/usr/bin/Xvfb\x00:41\x00", true},
		{"Xvfb\x00:42\x00", false},
		{"Xvfb\x00", false},
		{"xterm\x00:41\x00", false},
		{"", false},
	} {
		if got := maskCmdline([]byte(tc.cmdline), "Xvfb", ":41"); got != tc.want {
			t.Errorf("maskCmdline(%q) = %v, want %v", tc.cmdline, got, tc.want)
		}
	}
}
