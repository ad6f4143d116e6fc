package overlay

import (
	"fmt"
	"image"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// pieces splits r into the parts that fall on each monitor, so each part gets its own window
// clipped to its monitor. With no monitor information r is clipped to screen. When r touches
// more monitors than there are windows (or monitors overlap, as clones do), one window covers
// the part of r inside the bounding box of those monitors: covering too much beats too little.
//
// An empty r means the caller does not know where the data is, and an r on no monitor means
// its geometry is wrong: either way everything is covered.
func pieces(r, screen image.Rectangle, monitors []image.Rectangle, windows int) []image.Rectangle {
	r = r.Canon()
	if r.Empty() {
		return everywhere(screen, monitors)
	}
	if len(monitors) == 0 {
		if c := r.Intersect(screen); !c.Empty() {
			return []image.Rectangle{c}
		}
		return everywhere(screen, nil)
	}
	var out []image.Rectangle
	var bound image.Rectangle
	for _, m := range monitors {
		c := r.Intersect(m)
		if c.Empty() {
			continue
		}
		bound = bound.Union(c)
		out = append(out, c)
	}
	overlap := false
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[i].Overlaps(out[j]) {
				overlap = true
			}
		}
	}
	if len(out) == 0 {
		// Nowhere on any monitor: the geometry is wrong or stale, so cover everything.
		return everywhere(screen, monitors)
	}
	if len(out) > windows || overlap {
		return []image.Rectangle{bound}
	}
	return out
}

// everywhere is one rectangle over the screen and every monitor.
func everywhere(screen image.Rectangle, monitors []image.Rectangle) []image.Rectangle {
	r := screen
	for _, m := range monitors {
		r = r.Union(m)
	}
	return []image.Rectangle{r}
}

// labelFont is the parsed face source for labels. It is parsed once per overlay, not per label.
type labelFont struct{ f *sfnt.Font }

func newLabelFont() (*labelFont, error) {
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse label font: %w", err)
	}
	return &labelFont{f: f}, nil
}

// render rasterises label as white-on-black grey levels sized to fit a w×h mask: as large as
// the mask's height allows (capped so it stays a label, not a banner), shrunk to fit the width.
// It returns nil when the mask is too small for readable text.
func (lf *labelFont) render(label string, w, h int) (*image.Gray, error) {
	const pad, minSize, maxSize = 6, 9.0, 40.0
	if label == "" || w <= 2*pad || h <= 2 {
		return nil, nil
	}
	size := min(float64(h)*0.6, maxSize)
	for size >= minSize {
		face, err := opentype.NewFace(lf.f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("label face: %w", err)
		}
		adv := font.MeasureString(face, label).Ceil()
		m := face.Metrics()
		th := (m.Ascent + m.Descent).Ceil()
		if adv <= w-2*pad && th <= h {
			img := image.NewGray(image.Rect(0, 0, adv, th))
			d := font.Drawer{Dst: img, Src: image.White, Face: face, Dot: fixed.Point26_6{Y: m.Ascent}}
			d.DrawString(label)
			_ = face.Close()
			return img, nil
		}
		_ = face.Close()
		if adv > w-2*pad {
			size = min(size-1, size*float64(w-2*pad)/float64(adv))
		} else {
			size--
		}
	}
	return nil, nil
}

// centre returns where an image of size sz sits centred in a w×h mask.
func centre(sz image.Point, w, h int) image.Point {
	return image.Pt((w-sz.X)/2, (h-sz.Y)/2)
}

// maskImage is what a w×h mask window with the given label image should look like; tests and
// Check compare readbacks against it.
func maskImage(lbl *image.Gray, w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	if lbl != nil {
		at := centre(lbl.Bounds().Size(), w, h)
		draw.Draw(img, lbl.Bounds().Add(at), lbl, image.Point{}, draw.Src)
	}
	return img
}

// around returns up to four non-empty rectangles that together cover all of r outside box
// (all of r when box is empty): the bands above and below box, and left and right of it.
func around(r, box image.Rectangle) []image.Rectangle {
	box = box.Intersect(r)
	if box.Empty() {
		return []image.Rectangle{r}
	}
	var out []image.Rectangle
	for _, c := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, box.Min.Y)},                          // above
		{image.Pt(r.Min.X, box.Max.Y), r.Max},                          // below
		{image.Pt(r.Min.X, box.Min.Y), image.Pt(box.Min.X, box.Max.Y)}, // left
		{image.Pt(box.Max.X, box.Min.Y), image.Pt(r.Max.X, box.Max.Y)}, // right
	} {
		if !c.Empty() {
			out = append(out, c)
		}
	}
	return out
}
