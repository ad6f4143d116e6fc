package tray

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"testing"

	"pcipause/tray/icons"
)

func TestARGBRoundTrip(t *testing.T) {
	for _, ic := range icons.All {
		t.Run(ic.Name(), func(t *testing.T) {
			b, err := iconBytes(ic)
			if err != nil {
				t.Fatal(err)
			}
			// Decoded the way systray decodes it.
			img, format, err := image.Decode(bytes.NewReader(b))
			if err != nil || format != "pcipause-argb32" {
				t.Fatalf("image.Decode: %v (format %q)", err, format)
			}
			want, err := icons.Draw(ic, icons.PNGSize)
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < icons.PNGSize; y++ {
				for x := 0; x < icons.PNGSize; x++ {
					r, g, b, a := img.At(x, y).RGBA()
					c := want.NRGBAAt(x, y)
					// systray keeps the low byte of each channel: it must be the 8-bit value.
					if byte(r) != c.R || byte(g) != c.G || byte(b) != c.B || byte(a) != c.A {
						t.Fatalf("pixel %d,%d: low bytes %d,%d,%d,%d, want %v", x, y, byte(r), byte(g), byte(b), byte(a), c)
					}
				}
			}
		})
	}
}

func TestDecodeARGBRejects(t *testing.T) {
	ok := encodeARGB(image.NewNRGBA(image.Rect(0, 0, 2, 2)))
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "header"},
		{"bad magic", "pcipause-argb33\n\x00\x01\x00\x01abcd", "bad magic"},
		{"zero width", argbMagic + "\x00\x00\x00\x01", "outside"},
		{"too large", argbMagic + "\x10\x00\x00\x01", "outside"},
		{"short pixels", string(ok[:len(ok)-1]), "pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeARGB(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
			if _, err := decodeARGBConfig(strings.NewReader(tt.in)); err == nil && tt.want != "pixels" {
				t.Fatal("config decoded bad input")
			}
		})
	}
}

func FuzzDecodeARGB(f *testing.F) {
	f.Add(encodeARGB(image.NewNRGBA(image.Rect(0, 0, 1, 1))))
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.SetNRGBA(1, 1, color.NRGBA{1, 2, 3, 4})
	f.Add(encodeARGB(img))
	f.Add([]byte(argbMagic + "\xff\xff\xff\xff"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeARGB(bytes.NewReader(b))
		if err != nil {
			return
		}
		r := img.Bounds()
		if r.Dx() < 1 || r.Dy() < 1 || r.Dx() > maxPixmap || r.Dy() > maxPixmap {
			t.Fatalf("decoded size %v out of bounds", r)
		}
		img.At(-1, -1)
		img.At(r.Dx(), r.Dy())
		n := image.NewNRGBA(r)
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				c := img.At(x, y).(rawARGB)
				n.SetNRGBA(x, y, color.NRGBA{c.r, c.g, c.b, c.a})
			}
		}
		if again := encodeARGB(n); !bytes.Equal(again, b[:len(again)]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
