package icons

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
)

// EncodeICO writes the images as one Windows .ico file, each as a 32-bit BGRA DIB with an
// AND mask, the form every Windows version's LoadImage reads. Images must be square, 1–256 px
// and of distinct sizes.
func EncodeICO(imgs []*image.NRGBA) ([]byte, error) {
	if len(imgs) == 0 || len(imgs) > 16 {
		return nil, fmt.Errorf("encode ico: %d images, want 1–16", len(imgs))
	}
	seen := map[int]bool{}
	var dibs [][]byte
	for _, img := range imgs {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		if w != h || w < 1 || w > 256 {
			return nil, fmt.Errorf("encode ico: image %dx%d is not square or outside 1–256 px", w, h)
		}
		if seen[w] {
			return nil, fmt.Errorf("encode ico: two images of %d px", w)
		}
		seen[w] = true
		dibs = append(dibs, dib(img))
	}

	var out bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 6)
	le.PutUint16(hdr[2:], 1) // type: icon
	le.PutUint16(hdr[4:], uint16(len(imgs)))
	out.Write(hdr)
	offset := 6 + 16*len(imgs)
	for k, img := range imgs {
		e := make([]byte, 16)
		w := img.Rect.Dx()
		e[0], e[1] = byte(w%256), byte(w%256) // 0 means 256
		le.PutUint16(e[4:], 1)                // planes
		le.PutUint16(e[6:], 32)               // bits per pixel
		le.PutUint32(e[8:], uint32(len(dibs[k])))
		le.PutUint32(e[12:], uint32(offset))
		offset += len(dibs[k])
		out.Write(e)
	}
	for _, d := range dibs {
		out.Write(d)
	}
	return out.Bytes(), nil
}

// dib is a BITMAPINFOHEADER, bottom-up BGRA rows and a 1-bit AND mask (set where fully
// transparent, for renderers that ignore alpha).
func dib(img *image.NRGBA) []byte {
	le := binary.LittleEndian
	w, h := img.Rect.Dx(), img.Rect.Dy()
	maskStride := ((w + 31) / 32) * 4
	b := make([]byte, 40+w*h*4+maskStride*h)
	le.PutUint32(b[0:], 40)
	le.PutUint32(b[4:], uint32(w))
	le.PutUint32(b[8:], uint32(2*h)) // XOR and AND bitmaps stacked
	le.PutUint16(b[12:], 1)
	le.PutUint16(b[14:], 32)
	le.PutUint32(b[20:], uint32(w*h*4+maskStride*h))
	px := b[40:]
	mask := b[40+w*h*4:]
	for y := 0; y < h; y++ {
		row := h - 1 - y // bottom-up
		for x := 0; x < w; x++ {
			c := img.NRGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			o := (row*w + x) * 4
			px[o], px[o+1], px[o+2], px[o+3] = c.B, c.G, c.R, c.A
			if c.A == 0 {
				mask[row*maskStride+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	return b
}
