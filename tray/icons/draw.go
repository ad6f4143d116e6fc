// Package icons draws the tray's four state icons and embeds the PNG (Linux) and ICO (Windows)
// files generated from those drawings by `go run ./tray/icons/gen`.
//
// Each icon differs from the others in shape as well as colour, so it reads on a light or a
// dark panel and for a colour-blind agent: a red dot (recording), a black shield with pause
// bars (card data masked, recording paused), an amber warning triangle (degraded) and a grey
// crossed-out pale disc (not recording). Every size is rasterised on its own grid, with outlines
// at least one pixel wide, rather than scaled down from a large bitmap.
package icons

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Icon names one of the tray's state icons.
type Icon int

// The icons, one per tray state.
const (
	Recording Icon = iota + 1
	PCIActive
	Degraded
	NotRecording
)

// All lists every icon, in the order the docs show them.
var All = []Icon{Recording, PCIActive, Degraded, NotRecording}

// Sizes are the pixel sizes drawn into each ICO file: 16 px is the classic tray size, 20 and
// 24 px cover 125 % and 150 % scaling, 32 px is what LoadImage picks by default, 48 px is
// for 200 % and above.
var Sizes = []int{16, 20, 24, 32, 48}

// PNGSize is the size of the PNG handed to StatusNotifierItem hosts; they scale it to their
// panel height (typically 16–24 px), and a 32 px source stays sharp on HiDPI panels.
const PNGSize = 32

// Name is the icon's file name stem (recording, pci-active, degraded, not-recording).
func (i Icon) Name() string {
	switch i {
	case Recording:
		return "recording"
	case PCIActive:
		return "pci-active"
	case Degraded:
		return "degraded"
	case NotRecording:
		return "not-recording"
	}
	return fmt.Sprintf("icon(%d)", int(i))
}

// Draw renders the icon at size×size pixels on a transparent background. It returns an
// error for an unknown icon or a size outside 8–256.
func Draw(i Icon, size int) (*image.NRGBA, error) {
	if size < 8 || size > 256 {
		return nil, fmt.Errorf("draw icon: size %d outside 8–256", size)
	}
	layers, ok := design(i, size)
	if !ok {
		return nil, fmt.Errorf("draw icon: unknown icon %d", int(i))
	}
	return rasterize(layers, size), nil
}

// layer is one flat-coloured shape; shapes are tested in pixel coordinates.
type layer struct {
	c      color.NRGBA
	inside func(x, y float64) bool
}

var (
	red    = color.NRGBA{0xD7, 0x19, 0x1C, 0xFF}
	white  = color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	black  = color.NRGBA{0x10, 0x10, 0x10, 0xFF}
	amber  = color.NRGBA{0xF5, 0xA3, 0x00, 0xFF}
	grey   = color.NRGBA{0x78, 0x78, 0x78, 0xFF}
	pale   = color.NRGBA{0xE4, 0xE4, 0xE4, 0xFF}
	halo   = color.NRGBA{0xFF, 0xFF, 0xFF, 0xD0}
	shadow = color.NRGBA{0x20, 0x20, 0x20, 0xFF}
)

// design returns the layers of icon i for a size×size grid. Lengths are fractions of the
// size, except outlines, which are max(1 px, size/16) so a 16 px icon keeps a crisp edge.
func design(i Icon, size int) ([]layer, bool) {
	s := float64(size)
	ol := math.Max(1, s/16) // outline width in pixels
	c := s / 2
	switch i {
	case Recording:
		// A white halo keeps the dot visible on a dark panel; on a light one it vanishes
		// and the red dot stands alone.
		r := s*0.5 - 0.5
		return []layer{
			{halo, circle(c, c, r)},
			{red, circle(c, c, r-ol)},
		}, true
	case PCIActive:
		sh := shield(s, 0)
		in := shield(s, ol)
		bw := math.Max(2, math.Round(s*0.12)) // pause bar width
		gap := math.Max(2, math.Round(s*0.12))
		top, bot := s*0.30, s*0.66
		x0 := c - gap/2 - bw
		x1 := c + gap/2
		return []layer{
			{white, sh},
			{black, in},
			{white, rect(x0, top, x0+bw, bot)},
			{white, rect(x1, top, x1+bw, bot)},
		}, true
	case Degraded:
		outer := triangle(s, 0)
		inner := triangle(s, ol)
		bw := math.Max(2, math.Round(s*0.13)) // exclamation stroke width
		x0 := c - bw/2
		return []layer{
			{shadow, outer},
			{amber, inner},
			{black, rect(x0, s*0.34, x0+bw, s*0.66)},
			{black, rect(x0, s*0.73, x0+bw, s*0.73+bw)},
		}, true
	case NotRecording:
		r := s*0.5 - 0.5
		w := math.Max(2, math.Round(s*0.14)) // ring and slash width
		// A pale face keeps the sign bright on a dark panel, unlike the red dot.
		return []layer{
			{pale, circle(c, c, r-w/2)},
			{grey, ring(c, c, r, r-w)},
			{grey, and(circle(c, c, r), band(c, c, -1, 1, w))},
		}, true
	}
	return nil, false
}

func circle(cx, cy, r float64) func(x, y float64) bool {
	return func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		return dx*dx+dy*dy <= r*r
	}
}

func ring(cx, cy, rOut, rIn float64) func(x, y float64) bool {
	return func(x, y float64) bool {
		d := (x-cx)*(x-cx) + (y-cy)*(y-cy)
		return d <= rOut*rOut && d >= rIn*rIn
	}
}

func rect(x0, y0, x1, y1 float64) func(x, y float64) bool {
	return func(x, y float64) bool { return x >= x0 && x < x1 && y >= y0 && y < y1 }
}

// band is a stripe of width w through (cx, cy) along direction (dx, dy).
func band(cx, cy, dx, dy, w float64) func(x, y float64) bool {
	n := math.Hypot(dx, dy)
	nx, ny := -dy/n, dx/n
	return func(x, y float64) bool {
		return math.Abs((x-cx)*nx+(y-cy)*ny) <= w/2
	}
}

func and(a, b func(x, y float64) bool) func(x, y float64) bool {
	return func(x, y float64) bool { return a(x, y) && b(x, y) }
}

// shield is a heater shield filling the square, inset by in pixels.
func shield(s, in float64) func(x, y float64) bool {
	pts := [][2]float64{
		{0.5, 0.02}, {0.93, 0.16}, {0.90, 0.50}, {0.80, 0.72}, {0.64, 0.88},
		{0.5, 0.98}, {0.36, 0.88}, {0.20, 0.72}, {0.10, 0.50}, {0.07, 0.16},
	}
	return insetPolygon(scale(pts, s), in)
}

// triangle is an upward warning triangle filling the square, inset by in pixels.
func triangle(s, in float64) func(x, y float64) bool {
	pts := [][2]float64{{0.5, 0.03}, {0.99, 0.94}, {0.01, 0.94}}
	return insetPolygon(scale(pts, s), in)
}

func scale(pts [][2]float64, s float64) [][2]float64 {
	out := make([][2]float64, len(pts))
	for i, p := range pts {
		out[i] = [2]float64{p[0] * s, p[1] * s}
	}
	return out
}

// insetPolygon is inside the convex-or-not polygon and at least in pixels from its edges.
func insetPolygon(pts [][2]float64, in float64) func(x, y float64) bool {
	return func(x, y float64) bool {
		if !pointInPolygon(pts, x, y) {
			return false
		}
		if in <= 0 {
			return true
		}
		for k := range pts {
			a, b := pts[k], pts[(k+1)%len(pts)]
			if segDist(a, b, x, y) < in {
				return false
			}
		}
		return true
	}
}

func pointInPolygon(pts [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
		xi, yi := pts[i][0], pts[i][1]
		xj, yj := pts[j][0], pts[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

func segDist(a, b [2]float64, x, y float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := ((x-a[0])*dx + (y-a[1])*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(a[0]+t*dx), y-(a[1]+t*dy))
}

// rasterize paints the layers with 8×8 supersampling per pixel and the "over" operator.
func rasterize(layers []layer, size int) *image.NRGBA {
	const ss = 8
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64 // premultiplied, 0..1
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := float64(px) + (float64(sx)+0.5)/ss
					y := float64(py) + (float64(sy)+0.5)/ss
					var cr, cg, cb, ca float64
					for _, l := range layers {
						if !l.inside(x, y) {
							continue
						}
						la := float64(l.c.A) / 255
						cr = float64(l.c.R)/255*la + cr*(1-la)
						cg = float64(l.c.G)/255*la + cg*(1-la)
						cb = float64(l.c.B)/255*la + cb*(1-la)
						ca = la + ca*(1-la)
					}
					r += cr
					g += cg
					b += cb
					a += ca
				}
			}
			n := float64(ss * ss)
			r, g, b, a = r/n, g/n, b/n, a/n
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a * 255)),
				G: uint8(math.Round(g / a * 255)),
				B: uint8(math.Round(b / a * 255)),
				A: uint8(math.Round(a * 255)),
			})
		}
	}
	return img
}
