package frames

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

const pan = "4111111111111111"

func TestScore(t *testing.T) {
	tests := []struct {
		name, text, pan string
		want            int
	}{
		{"empty", "", pan, 0},
		{"no digits", "Card number:\nHidden from recording", pan, 0},
		{"whole number", "4111111111111111", pan, 16},
		{"grouped with spaces", "Card number: 4111 1111 1111 1111", pan, 16},
		{"grouped with dashes", "4111-1111-1111-1111", pan, 16},
		{"BIN only", "Card number: 411111", pan, 6},
		{"seventh digit", "4111 111", pan, 7},
		{"broken by a letter", "4111 11x1 1111", pan, 6},
		{"broken by a colon", "41:11", pan, 2},
		{"split across lines", "4111\n1111", pan, 4},
		{"label digits", "Hidden from recording · 16 digits · checksum OK", pan, 1},
		{"digits not in the number", "9999 9999 9999", pan, 0},
		{"partial in the middle", "5500 0055", "5500005555555559", 8},
		{"longest of several runs", "41 / 4111 11", pan, 6},
		{"amex", "3400 000000 00009", "340000000000009", 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Score(tt.text, tt.pan); got != tt.want {
				t.Errorf("Score(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

func FuzzScore(f *testing.F) {
	for _, s := range []string{"", "4111 1111", "a1-2 3\n4", "----", "41\x0011"} {
		f.Add(s, pan)
	}
	f.Fuzz(func(t *testing.T, text, p string) {
		got := Score(text, p)
		digits := strings.Count(text, "") // upper bound: text length
		if got < 0 || got > len(p) || got > digits {
			t.Fatalf("Score = %d out of range (pan %d, text %d)", got, len(p), len(text))
		}
	})
}

func TestParseShowinfo(t *testing.T) {
	tests := []struct {
		line string
		pts  int64
		ok   bool
		num  int64
		den  int64
		tbOK bool
	}{
		{"[Parsed_showinfo_1 @ 0x1] n:   0 pts:1795638283767 pts_time:1.79564e+09 pos: 536", 1795638283767, true, 0, 0, false},
		{"[Parsed_showinfo_1 @ 0x1] n:  12 pts:   400 pts_time:0.4", 400, true, 0, 0, false},
		{"[Parsed_showinfo_1 @ 0x1] config in time_base: 1/1000, frame_rate: 30/1", 0, false, 1, 1000, true},
		{"[Parsed_showinfo_1 @ 0x1] config in time_base: 0/0", 0, false, 0, 0, false},
		{"n: x pts: y", 0, false, 0, 0, false},
		{"", 0, false, 0, 0, false},
	}
	for _, tt := range tests {
		pts, ok := parsePTS(tt.line)
		if ok != tt.ok || pts != tt.pts {
			t.Errorf("parsePTS(%q) = %d, %v; want %d, %v", tt.line, pts, ok, tt.pts, tt.ok)
		}
		n, d, ok := parseTimebase(tt.line)
		if ok != tt.tbOK || n != tt.num || d != tt.den {
			t.Errorf("parseTimebase(%q) = %d/%d, %v; want %d/%d, %v", tt.line, n, d, ok, tt.num, tt.den, tt.tbOK)
		}
	}
}

func TestPTSTime(t *testing.T) {
	tests := []struct {
		pts, num, den int64
		want          time.Time
	}{
		{1795639830900, 1, 1000, time.Unix(1795639830, 900_000_000)},
		{0, 1, 1000, time.Unix(0, 0)},
		{90000, 1, 90000, time.Unix(1, 0)},
		{3, 1001, 30000, time.Unix(0, 100_100_000)},
	}
	for _, tt := range tests {
		if got := ptsTime(tt.pts, tt.num, tt.den); !got.Equal(tt.want) {
			t.Errorf("ptsTime(%d, %d/%d) = %v, want %v", tt.pts, tt.num, tt.den, got, tt.want)
		}
	}
}

func FuzzParseShowinfo(f *testing.F) {
	f.Add("[Parsed_showinfo_1 @ 0x1] n:   0 pts:1795638283767 pts_time:1.79564e+09")
	f.Add("config in time_base: 1/1000, frame_rate: 30/1")
	f.Add("n: 99999999999999999999 pts: -99999999999999999999999")
	f.Fuzz(func(t *testing.T, line string) {
		parsePTS(line)
		if n, d, ok := parseTimebase(line); ok && (n <= 0 || d <= 0) {
			t.Fatalf("accepted time base %d/%d", n, d)
		}
	})
}

func TestSummarizeGaps(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var fs []Frame
	at := t0
	for i := 0; i < 10; i++ {
		if i == 6 {
			at = at.Add(200 * time.Millisecond) // the recorder stalled
		} else {
			at = at.Add(33 * time.Millisecond)
		}
		fs = append(fs, Frame{Index: i, PTS: at, Unique: i, Digits: i % 8, Black: 1 - float64(i)/10})
	}
	s := summarize(fs)
	if len(s.Gaps) != 1 || s.Gaps[0].After != 5 || s.MaxGap != 200*time.Millisecond {
		t.Errorf("gaps = %+v max %s, want one 200ms gap after frame 5", s.Gaps, s.MaxGap)
	}
	if s.MaxDigits != 7 || s.WorstIndex != 7 || s.Over6 != 1 {
		t.Errorf("max %d at %d, over6 %d; want 7 at 7, 1", s.MaxDigits, s.WorstIndex, s.Over6)
	}
	if s.MinBlack > 0.11 || s.MinBlack < 0.09 {
		t.Errorf("min black %.2f, want 0.10", s.MinBlack)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	ctx := context.Background()
	good := Options{Crop: image.Rect(0, 0, 10, 10), PAN: pan}
	tests := []struct {
		name  string
		video []byte
		mod   func(*Options)
		want  string
	}{
		{"short pan", []byte("x"), func(o *Options) { o.PAN = "4111" }, "card number"},
		{"letters in pan", []byte("x"), func(o *Options) { o.PAN = "4111x11111111111" }, "card number"},
		{"empty crop", []byte("x"), func(o *Options) { o.Crop = image.Rectangle{} }, "crop"},
		{"negative crop", []byte("x"), func(o *Options) { o.Crop = image.Rect(-5, 0, 5, 5) }, "crop"},
		{"field outside crop", []byte("x"), func(o *Options) { o.Field = image.Rect(50, 50, 60, 60) }, "field"},
		{"not a video", []byte("this is not a video"), func(*Options) {}, "ffmpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "not a video" {
				needTools(t)
			}
			o := good
			tt.mod(&o)
			_, err := Analyze(ctx, tt.video, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Analyze: err = %v, want one naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), pan) {
				t.Fatalf("error carries the card number: %v", err)
			}
		})
	}
}

func needTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "tesseract"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("skipping: %s not installed", p)
		}
	}
}

// synthVideo renders frames (text lines, or solid black for "") with a monospace font and
// encodes them losslessly into Matroska in memory.
func synthVideo(t *testing.T, texts []string) []byte {
	t.Helper()
	f, err := opentype.Parse(gomono.TTF)
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 32, DPI: 72})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, s := range texts {
		img := image.NewRGBA(image.Rect(0, 0, 640, 80))
		if s == "" {
			draw.Draw(img, img.Bounds(), image.Black, image.Point{}, draw.Src)
		} else {
			draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
			d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face, Dot: fixed.P(16, 52)}
			d.DrawString(s)
		}
		if err := png.Encode(&in, img); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "image2pipe", "-framerate", "30",
		"-c:v", "png", "-i", "pipe:0", "-c:v", "ffv1", "-f", "matroska", "pipe:1")
	cmd.Stdin = &in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("encode test video: %v: %s", err, errb.String())
	}
	return out.Bytes()
}

func TestAnalyzeSyntheticVideo(t *testing.T) {
	needTools(t)
	texts := []string{"Card number:", "Card number:", "Card number: 411111", "Card number: 4111 1111 1111 1111", ""}
	video := synthVideo(t, texts)
	res, err := Analyze(context.Background(), video, Options{Crop: image.Rect(0, 0, 640, 80), PAN: pan, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Frames) != len(texts) || res.Summary.Unique != 4 {
		t.Fatalf("frames %d unique %d, want %d and 4", len(res.Frames), res.Summary.Unique, len(texts))
	}
	want := []struct{ min, max int }{{0, 0}, {0, 0}, {5, 6}, {14, 16}, {0, 0}}
	for i, w := range want {
		f := res.Frames[i]
		if f.Digits < w.min || f.Digits > w.max {
			t.Errorf("frame %d: %d digits, want %d-%d", i, f.Digits, w.min, w.max)
		}
	}
	if res.Frames[1].Unique != 0 {
		t.Errorf("frame 1 is identical to frame 0 but Unique = %d", res.Frames[1].Unique)
	}
	if b := res.Frames[4].Black; b != 1 {
		t.Errorf("black frame: black fraction %.2f, want 1", b)
	}
	if res.Summary.WorstIndex != 3 || res.Summary.Over6 != 1 || res.Worst == nil {
		t.Errorf("summary %v, want worst frame 3 and one frame over 6", res.Summary)
	}
	if res.Frames[1].PTS.Sub(res.Frames[0].PTS) <= 0 {
		t.Errorf("timestamps not increasing: %v, %v", res.Frames[0].PTS, res.Frames[1].PTS)
	}
}

// TestAnalyzeSkip: frames the caller skips (a paused recording keeps none) are not read.
func TestAnalyzeSkip(t *testing.T) {
	needTools(t)
	texts := []string{"Card number:", "Card number: 4111 1111 1111 1111", "Card number: 4111 1111 1111 1111", "Card number:"}
	video := synthVideo(t, texts)
	all, err := Analyze(context.Background(), video, Options{Crop: image.Rect(0, 0, 640, 80), PAN: pan, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	from, to := all.Frames[1].PTS, all.Frames[2].PTS
	res, err := Analyze(context.Background(), video, Options{Crop: image.Rect(0, 0, 640, 80), PAN: pan, Workers: 2,
		Skip: func(p time.Time) bool { return !p.Before(from) && !p.After(to) }})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range res.Frames {
		if f.Skipped != (i == 1 || i == 2) {
			t.Errorf("frame %d skipped=%v", i, f.Skipped)
		}
		if f.Digits != 0 {
			t.Errorf("frame %d: %d digits read, want none (skipped or empty)", i, f.Digits)
		}
	}
	if res.Summary.MaxDigits != 0 || all.Summary.MaxDigits < 14 {
		t.Errorf("max digits %d with the card frames skipped, %d without", res.Summary.MaxDigits, all.Summary.MaxDigits)
	}
}
