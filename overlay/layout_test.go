package overlay

import (
	"image"
	"testing"
)

func TestPieces(t *testing.T) {
	screen := image.Rect(0, 0, 1600, 600)
	left, right := image.Rect(0, 0, 800, 600), image.Rect(800, 0, 1600, 600)
	tests := []struct {
		name     string
		r        image.Rectangle
		monitors []image.Rectangle
		windows  int
		want     []image.Rectangle
	}{
		{"no randr: clipped to screen", image.Rect(-10, 500, 100, 700), nil, 2, []image.Rectangle{image.Rect(0, 500, 100, 600)}},
		{"off screen: cover everything", image.Rect(2000, 0, 2100, 10), nil, 2, []image.Rectangle{screen}},
		{"on no monitor: cover everything", image.Rect(2000, 0, 2100, 10), []image.Rectangle{left, right}, 2, []image.Rectangle{screen}},
		{"one monitor", image.Rect(10, 10, 110, 50), []image.Rectangle{left, right}, 2, []image.Rectangle{image.Rect(10, 10, 110, 50)}},
		{"clipped to its monitor", image.Rect(700, 590, 780, 650), []image.Rectangle{left, right}, 2, []image.Rectangle{image.Rect(700, 590, 780, 600)}},
		{"straddles two monitors", image.Rect(700, 10, 900, 50), []image.Rectangle{left, right}, 2,
			[]image.Rectangle{image.Rect(700, 10, 800, 50), image.Rect(800, 10, 900, 50)}},
		{"more monitors than windows", image.Rect(700, 10, 900, 50), []image.Rectangle{left, right}, 1,
			[]image.Rectangle{image.Rect(700, 10, 900, 50)}},
		{"cloned monitors overlap", image.Rect(10, 10, 50, 50), []image.Rectangle{left, left}, 2,
			[]image.Rectangle{image.Rect(10, 10, 50, 50)}},
		{"non-canonical rectangle", image.Rectangle{Min: image.Pt(110, 50), Max: image.Pt(10, 10)}, []image.Rectangle{left}, 2,
			[]image.Rectangle{image.Rect(10, 10, 110, 50)}},
		{"unknown area: cover everything", image.Rectangle{}, []image.Rectangle{left, right}, 2, []image.Rectangle{screen}},
		{"unknown area without randr", image.Rectangle{}, nil, 2, []image.Rectangle{screen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pieces(tt.r, screen, tt.monitors, tt.windows)
			if len(got) != len(tt.want) {
				t.Fatalf("pieces(%v) = %v, want %v", tt.r, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("pieces(%v) = %v, want %v", tt.r, got, tt.want)
				}
			}
		})
	}
}

func TestRenderLabelFits(t *testing.T) {
	lf, err := newLabelFont()
	if err != nil {
		t.Fatal(err)
	}
	const label = "Hidden from recording · 16 digits · checksum OK"
	tests := []struct {
		name    string
		w, h    int
		wantNil bool
	}{
		{"wide field", 700, 48, false},
		{"narrow field shrinks text", 260, 48, false},
		{"tall field caps size", 900, 400, false},
		{"too small for text", 40, 8, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := lf.render(label, tt.w, tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNil {
				if img != nil {
					t.Fatalf("render into %dx%d gave %v, want no label", tt.w, tt.h, img.Bounds())
				}
				return
			}
			if img == nil {
				t.Fatalf("render into %dx%d gave no label", tt.w, tt.h)
			}
			b := img.Bounds()
			if b.Dx() > tt.w || b.Dy() > tt.h {
				t.Fatalf("label %v does not fit %dx%d", b, tt.w, tt.h)
			}
			if b.Dy() > 60 {
				t.Fatalf("label %d px tall, want capped", b.Dy())
			}
			lit := 0
			for _, v := range img.Pix {
				if v > 128 {
					lit++
				}
			}
			if lit < 100 {
				t.Fatalf("label has only %d lit pixels", lit)
			}
		})
	}
}

func BenchmarkRenderLabel(b *testing.B) {
	lf, err := newLabelFont()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := lf.render("Hidden from recording · 16 digits · checksum OK", 600, 60); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAround(t *testing.T) {
	r := image.Rect(0, 0, 600, 60)
	for _, box := range []image.Rectangle{
		image.Rect(100, 10, 500, 50), // inside: four bands
		image.Rect(0, 0, 600, 60),    // all of r: nothing
		image.Rect(0, 10, 600, 50),   // full width: above and below
		{},                           // no label: all of r
		image.Rect(-10, -10, 50, 50), // sticking out: clipped
	} {
		var area int
		cs := around(r, box)
		for i, c := range cs {
			if c.Empty() || !c.In(r) || c.Overlaps(box) {
				t.Errorf("box %v: piece %v empty, outside r or over the box", box, c)
			}
			for _, d := range cs[i+1:] {
				if c.Overlaps(d) {
					t.Errorf("box %v: pieces %v and %v overlap", box, c, d)
				}
			}
			area += c.Dx() * c.Dy()
		}
		in := box.Intersect(r)
		if want := r.Dx()*r.Dy() - in.Dx()*in.Dy(); area != want {
			t.Errorf("box %v: pieces cover %d pixels, want %d", box, area, want)
		}
	}
}
