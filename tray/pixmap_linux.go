package tray

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"sync"

	"pcipause/tray/icons"
)

// fyne.io/systray turns the icon it is given into the StatusNotifierItem IconPixmap by
// decoding it with image.Decode and copying the low byte of each 16-bit premultiplied channel.
// That is exact for opaque pixels but garbles every anti-aliased edge. So on Linux the tray
// hands systray its own tiny format, registered with package image, whose colours report the
// plain 8-bit non-premultiplied ARGB that hosts expect (KDE reads IconPixmap as
// QImage::Format_ARGB32), each channel widened as v*0x101 so the low byte is v itself.

// argbMagic starts the icon bytes of that format: magic, width and height (uint16 BE), then
// width×height pixels of A, R, G, B.
const argbMagic = "pcipause-argb32\n"

// maxPixmap bounds decoded icons; tray icons are 16–48 px.
const maxPixmap = 256

// registerARGB registers the format once per process; package image keeps its formats in a
// process-wide table, so the guard is process-wide too.
var registerARGB sync.Once

func ensureARGBFormat() {
	registerARGB.Do(func() {
		image.RegisterFormat("pcipause-argb32", argbMagic, decodeARGB, decodeARGBConfig)
	})
}

// encodeARGB writes img in the argb32 format.
func encodeARGB(img *image.NRGBA) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	b := make([]byte, 0, len(argbMagic)+4+w*h*4)
	b = append(b, argbMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := img.NRGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			b = append(b, c.A, c.R, c.G, c.B)
		}
	}
	return b
}

func readARGBHeader(r io.Reader) (w, h int, err error) {
	hdr := make([]byte, len(argbMagic)+4)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, 0, fmt.Errorf("decode argb32 icon: header: %w", err)
	}
	if string(hdr[:len(argbMagic)]) != argbMagic {
		return 0, 0, errors.New("decode argb32 icon: bad magic")
	}
	w = int(binary.BigEndian.Uint16(hdr[len(argbMagic):]))
	h = int(binary.BigEndian.Uint16(hdr[len(argbMagic)+2:]))
	if w < 1 || h < 1 || w > maxPixmap || h > maxPixmap {
		return 0, 0, fmt.Errorf("decode argb32 icon: size %dx%d outside 1–%d", w, h, maxPixmap)
	}
	return w, h, nil
}

func decodeARGBConfig(r io.Reader) (image.Config, error) {
	w, h, err := readARGBHeader(r)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.NRGBAModel, Width: w, Height: h}, nil
}

func decodeARGB(r io.Reader) (image.Image, error) {
	w, h, err := readARGBHeader(r)
	if err != nil {
		return nil, err
	}
	pix := make([]byte, w*h*4)
	if _, err := io.ReadFull(r, pix); err != nil {
		return nil, fmt.Errorf("decode argb32 icon: %dx%d pixels: %w", w, h, err)
	}
	return &argbImage{w: w, h: h, pix: pix}, nil
}

// argbImage holds A, R, G, B bytes per pixel.
type argbImage struct {
	w, h int
	pix  []byte
}

func (m *argbImage) ColorModel() color.Model { return color.NRGBAModel }
func (m *argbImage) Bounds() image.Rectangle { return image.Rect(0, 0, m.w, m.h) }
func (m *argbImage) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.w || y >= m.h {
		return rawARGB{}
	}
	p := m.pix[(y*m.w+x)*4:]
	return rawARGB{a: p[0], r: p[1], g: p[2], b: p[3]}
}

// rawARGB reports its channels unpremultiplied, on purpose: see the comment at the top.
type rawARGB struct{ a, r, g, b uint8 }

func (c rawARGB) RGBA() (r, g, b, a uint32) {
	return uint32(c.r) * 0x101, uint32(c.g) * 0x101, uint32(c.b) * 0x101, uint32(c.a) * 0x101
}

// iconBytes is what systray.SetIcon gets on Linux: the embedded PNG, re-encoded as argb32.
func iconBytes(i icons.Icon) ([]byte, error) {
	ensureARGBFormat()
	b, err := icons.PNG(i)
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("icon %s: %w", i.Name(), err)
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		n = image.NewNRGBA(img.Bounds())
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				n.Set(x, y, img.At(x, y))
			}
		}
	}
	return encodeARGB(n), nil
}
