// Command gen draws the tray icons and writes the files the tray embeds — <name>.png
// (icons.PNGSize px) and <name>.ico (every icons.Sizes) — plus a preview per icon for the
// docs: the icon at 16, 24 and 32 px and at 16 px magnified 4×, on a light and a dark panel.
//
//	go run ./tray/icons/gen -out tray/icons -docs docs/img
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"

	"pcipause/tray/icons"
)

func main() {
	out := flag.String("out", "tray/icons", "directory for the embedded PNG and ICO files")
	docs := flag.String("docs", "docs/img", "directory for the preview PNGs (empty: none)")
	flag.Parse()
	if err := run(*out, *docs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out, docs string) error {
	for _, ic := range icons.All {
		img, err := icons.Draw(ic, icons.PNGSize)
		if err != nil {
			return err
		}
		if err := writePNG(filepath.Join(out, ic.Name()+".png"), img); err != nil {
			return err
		}
		var all []*image.NRGBA
		for _, s := range icons.Sizes {
			im, err := icons.Draw(ic, s)
			if err != nil {
				return err
			}
			all = append(all, im)
		}
		ico, err := icons.EncodeICO(all)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, ic.Name()+".ico"), ico, 0o644); err != nil {
			return fmt.Errorf("write ico: %w", err)
		}
		if docs != "" {
			p, err := preview(ic)
			if err != nil {
				return err
			}
			if err := writePNG(filepath.Join(docs, "tray-"+ic.Name()+".png"), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// preview lays the icon out on a light and a dark panel strip.
func preview(ic icons.Icon) (*image.NRGBA, error) {
	const pad, mag = 8, 4
	sizes := []int{16, 24, 32}
	w := pad
	for _, s := range sizes {
		w += s + pad
	}
	w += 16*mag + pad
	rowH := 16*mag + 2*pad
	img := image.NewNRGBA(image.Rect(0, 0, w, 2*rowH))
	panels := []color.NRGBA{{0xF2, 0xF2, 0xF2, 0xFF}, {0x24, 0x24, 0x24, 0xFF}}
	for row, bg := range panels {
		y0 := row * rowH
		draw.Draw(img, image.Rect(0, y0, w, y0+rowH), image.NewUniform(bg), image.Point{}, draw.Src)
		x := pad
		for _, s := range sizes {
			im, err := icons.Draw(ic, s)
			if err != nil {
				return nil, err
			}
			y := y0 + (rowH-s)/2
			draw.Draw(img, image.Rect(x, y, x+s, y+s), im, image.Point{}, draw.Over)
			x += s + pad
		}
		im, err := icons.Draw(ic, 16)
		if err != nil {
			return nil, err
		}
		big := image.NewNRGBA(image.Rect(0, 0, 16*mag, 16*mag))
		for yy := 0; yy < 16*mag; yy++ {
			for xx := 0; xx < 16*mag; xx++ {
				big.SetNRGBA(xx, yy, im.NRGBAAt(xx/mag, yy/mag))
			}
		}
		draw.Draw(img, image.Rect(x, y0+pad, x+16*mag, y0+pad+16*mag), big, image.Point{}, draw.Over)
	}
	return img, nil
}

func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	return nil
}
