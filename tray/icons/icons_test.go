package icons

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// parseICO reads back what EncodeICO writes (32-bit DIB entries only).
func parseICO(b []byte) ([]*image.NRGBA, error) {
	le := binary.LittleEndian
	if len(b) < 6 || le.Uint16(b[2:]) != 1 {
		return nil, fmt.Errorf("not an icon file")
	}
	n := int(le.Uint16(b[4:]))
	var out []*image.NRGBA
	for k := 0; k < n; k++ {
		e := b[6+16*k:]
		w := int(e[0])
		if w == 0 {
			w = 256
		}
		size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if off+size > len(b) {
			return nil, fmt.Errorf("entry %d out of bounds", k)
		}
		d := b[off : off+size]
		if le.Uint32(d) != 40 || int(le.Uint32(d[4:])) != w || int(le.Uint32(d[8:])) != 2*w || le.Uint16(d[14:]) != 32 {
			return nil, fmt.Errorf("entry %d: bad DIB header", k)
		}
		maskStride := ((w + 31) / 32) * 4
		if size != 40+w*w*4+maskStride*w {
			return nil, fmt.Errorf("entry %d: size %d", k, size)
		}
		img := image.NewNRGBA(image.Rect(0, 0, w, w))
		for y := 0; y < w; y++ {
			row := w - 1 - y
			for x := 0; x < w; x++ {
				o := 40 + (row*w+x)*4
				c := color.NRGBA{R: d[o+2], G: d[o+1], B: d[o], A: d[o+3]}
				masked := d[40+w*w*4+row*maskStride+x/8]&(0x80>>(x%8)) != 0
				if masked != (c.A == 0) {
					return nil, fmt.Errorf("entry %d: AND mask disagrees with alpha at %d,%d", k, x, y)
				}
				img.SetNRGBA(x, y, c)
			}
		}
		out = append(out, img)
	}
	return out, nil
}

func samePixels(t *testing.T, what string, got image.Image, want *image.NRGBA) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("%s: bounds %v, want %v", what, got.Bounds(), want.Bounds())
	}
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			g := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA)
			if g != want.NRGBAAt(x, y) {
				t.Fatalf("%s: pixel %d,%d = %v, want %v (run `go generate ./tray/icons`)", what, x, y, g, want.NRGBAAt(x, y))
			}
		}
	}
}

// The committed files must be what the drawing code makes today.
func TestEmbeddedFilesMatchDrawing(t *testing.T) {
	for _, ic := range All {
		t.Run(ic.Name(), func(t *testing.T) {
			b, err := PNG(ic)
			if err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("decode embedded png: %v", err)
			}
			want, err := Draw(ic, PNGSize)
			if err != nil {
				t.Fatal(err)
			}
			samePixels(t, "png", got, want)

			ico, err := ICO(ic)
			if err != nil {
				t.Fatal(err)
			}
			imgs, err := parseICO(ico)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != len(Sizes) {
				t.Fatalf("ico has %d images, want %d", len(imgs), len(Sizes))
			}
			for k, s := range Sizes {
				want, err := Draw(ic, s)
				if err != nil {
					t.Fatal(err)
				}
				samePixels(t, fmt.Sprintf("ico %dpx", s), imgs[k], want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	sq := func(n int) *image.NRGBA { return image.NewNRGBA(image.Rect(0, 0, n, n)) }
	tests := []struct {
		name string
		err  func() error
	}{
		{"draw unknown icon", func() error { _, err := Draw(Icon(99), 16); return err }},
		{"draw zero icon", func() error { _, err := Draw(0, 16); return err }},
		{"draw too small", func() error { _, err := Draw(Recording, 4); return err }},
		{"draw too large", func() error { _, err := Draw(Recording, 1000); return err }},
		{"png unknown icon", func() error { _, err := PNG(Icon(7)); return err }},
		{"ico unknown icon", func() error { _, err := ICO(Icon(-1)); return err }},
		{"ico no images", func() error { _, err := EncodeICO(nil); return err }},
		{"ico not square", func() error {
			_, err := EncodeICO([]*image.NRGBA{image.NewNRGBA(image.Rect(0, 0, 16, 8))})
			return err
		}},
		{"ico too big", func() error { _, err := EncodeICO([]*image.NRGBA{sq(300)}); return err }},
		{"ico duplicate size", func() error { _, err := EncodeICO([]*image.NRGBA{sq(16), sq(16)}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

var panels = []struct {
	name string
	bg   color.NRGBA
}{
	{"light panel", color.NRGBA{0xF2, 0xF2, 0xF2, 0xFF}},
	{"dark panel", color.NRGBA{0x24, 0x24, 0x24, 0xFF}},
}

// onPanel composites the icon over a flat panel colour and returns per-pixel luminance and RGB.
func onPanel(img *image.NRGBA, bg color.NRGBA) (lum []float64, rgb [][3]float64) {
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			c := img.NRGBAAt(x, y)
			a := float64(c.A) / 255
			mix := func(f, b uint8) float64 { return (float64(f)*a + float64(b)*(1-a)) / 255 }
			r, g, b := mix(c.R, bg.R), mix(c.G, bg.G), mix(c.B, bg.B)
			rgb = append(rgb, [3]float64{r, g, b})
			lum = append(lum, 0.2126*r+0.7152*g+0.0722*b)
		}
	}
	return lum, rgb
}

// Legible at every size on a light and a dark panel: a good share of the pixels stand out
// from the panel by luminance alone.
func TestIconsStandOutFromPanel(t *testing.T) {
	for _, ic := range All {
		for _, s := range Sizes {
			for _, p := range panels {
				img, err := Draw(ic, s)
				if err != nil {
					t.Fatal(err)
				}
				lum, _ := onPanel(img, p.bg)
				bgLum := 0.2126*float64(p.bg.R)/255 + 0.7152*float64(p.bg.G)/255 + 0.0722*float64(p.bg.B)/255
				n := 0
				for _, l := range lum {
					if d := l - bgLum; d > 0.3 || d < -0.3 {
						n++
					}
				}
				share := float64(n) / float64(len(lum))
				if share < 0.15 {
					t.Errorf("%s %dpx on %s: only %.0f%% of pixels contrast with the panel", ic.Name(), s, p.name, share*100)
				}
			}
		}
	}
}

// Any two icons differ in many pixels at 16 px, in colour and in luminance alone (for a
// colour-blind agent or a monochrome theme).
func TestIconsDistinctAt16px(t *testing.T) {
	for _, p := range panels {
		for i, a := range All {
			for _, b := range All[i+1:] {
				ia, _ := Draw(a, 16)
				ib, _ := Draw(b, 16)
				la, ca := onPanel(ia, p.bg)
				lb, cb := onPanel(ib, p.bg)
				lumDiff, colDiff := 0, 0
				for k := range la {
					if d := la[k] - lb[k]; d > 0.25 || d < -0.25 {
						lumDiff++
					}
					var dc float64
					for ch := 0; ch < 3; ch++ {
						d := ca[k][ch] - cb[k][ch]
						dc += d * d
					}
					if dc > 0.1 {
						colDiff++
					}
				}
				t.Logf("%s vs %s on %s: lum %d col %d", a.Name(), b.Name(), p.name, lumDiff, colDiff)
				if lumDiff < 50 || colDiff < 100 {
					t.Errorf("%s vs %s on %s: %d pixels differ in luminance, %d in colour, want ≥50 and ≥100 of 256",
						a.Name(), b.Name(), p.name, lumDiff, colDiff)
				}
			}
		}
	}
}
