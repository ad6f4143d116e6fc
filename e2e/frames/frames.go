// Package frames measures what a screen recording shows of a card number: it extracts every
// frame of a region, reads each distinct frame with tesseract in several passes, and scores
// the longest run of the card number's digits visible on one line, cross-checked by how much
// of the field is black. The card number is only ever held in memory.
package frames

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pass is one tesseract invocation: a page segmentation mode and whether to restrict the
// alphabet to digits.
type Pass struct {
	PSM       int
	DigitOnly bool
}

// DefaultPasses reads a block of text, the same block as digits only, and sparse digits.
var DefaultPasses = []Pass{{PSM: 6}, {PSM: 6, DigitOnly: true}, {PSM: 11, DigitOnly: true}}

// Options configures Analyze.
type Options struct {
	// Crop is the region of the video to read, in video pixel coordinates.
	Crop image.Rectangle
	// Field is the part of Crop (same coordinates as Crop) whose black fraction is reported;
	// empty means all of Crop.
	Field image.Rectangle
	// PAN is the card number looked for. It stays in memory.
	PAN string
	// Passes defaults to DefaultPasses.
	Passes []Pass
	// Workers running tesseract in parallel; default the number of CPUs.
	Workers int
	// Scale enlarges frames before OCR (nearest neighbour); default 1.
	Scale int
	// Skip, when set, is asked for each frame's capture time; frames it returns true for (say,
	// captured while the recording was paused, so a recorder would not keep them) are not read:
	// Skipped is set and Digits stays 0.
	Skip func(pts time.Time) bool
	Log  *slog.Logger
}

// Frame is the score of one frame. It never holds recognised text.
type Frame struct {
	Index int
	PTS   time.Time // capture wall-clock time when recorded with -copyts
	// Unique is the index of the first frame with identical pixels (itself if new).
	Unique int
	// Digits is the longest run of consecutive card-number digits on one OCR line.
	Digits int
	// Black is the fraction of the field region that is black (each channel ≤ 24).
	Black float64
	// Skipped frames were not read (Options.Skip).
	Skipped bool
}

// Gap is a pause in the recording longer than 1.5 frame intervals.
type Gap struct {
	After int // index of the frame before the gap
	Dur   time.Duration
}

// Summary condenses a Result.
type Summary struct {
	Frames, Unique int
	MaxDigits      int
	WorstIndex     int
	WorstTime      time.Time
	Over6          int // frames showing ≥ 7 digits
	Gaps           []Gap
	MaxGap         time.Duration
	MinBlack       float64 // over all frames
}

// Result is the analysis of one recording.
type Result struct {
	Frames  []Frame
	Summary Summary
	// Worst is the pixels of the worst frame (most digits; first on ties), for reports.
	Worst image.Image
}

func (s Summary) String() string {
	return fmt.Sprintf("frames=%d unique=%d max_visible_digits=%d worst_frame=%d frames_over_6=%d gaps=%d max_gap=%s min_black=%.2f",
		s.Frames, s.Unique, s.MaxDigits, s.WorstIndex, s.Over6, len(s.Gaps), s.MaxGap, s.MinBlack)
}

// AnalyzeFile analyses a recording on disk.
func AnalyzeFile(ctx context.Context, path string, opts Options) (*Result, error) {
	return analyze(ctx, []string{"-i", path}, nil, opts)
}

// Analyze analyses a recording held in memory (a streamable container such as Matroska).
func Analyze(ctx context.Context, video []byte, opts Options) (*Result, error) {
	return analyze(ctx, []string{"-i", "pipe:0"}, bytes.NewReader(video), opts)
}

var (
	showinfoRe = regexp.MustCompile(`\bn:\s*(\d+)\s+pts:\s*(-?\d+)`)
	timebaseRe = regexp.MustCompile(`config in time_base:\s*(\d+)/(\d+)`)
)

func analyze(ctx context.Context, input []string, stdin io.Reader, opts Options) (*Result, error) {
	if len(opts.PAN) < 12 || strings.Trim(opts.PAN, "0123456789") != "" {
		return nil, errors.New("analyze frames: card number must be 12 or more digits")
	}
	c := opts.Crop.Canon()
	if c.Empty() || c.Min.X < 0 || c.Min.Y < 0 {
		return nil, fmt.Errorf("analyze frames: bad crop rectangle %v", opts.Crop)
	}
	field := opts.Field
	if field.Empty() {
		field = c
	}
	field = field.Intersect(c).Sub(c.Min)
	if field.Empty() {
		return nil, fmt.Errorf("analyze frames: field %v lies outside crop %v", opts.Field, c)
	}
	if len(opts.Passes) == 0 {
		opts.Passes = DefaultPasses
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	for _, p := range []string{"ffmpeg", "tesseract"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("analyze frames: %s not installed: %w", p, err)
		}
	}
	args := append([]string{"-hide_banner", "-nostdin", "-copyts"}, input...)
	args = append(args, "-vf", fmt.Sprintf("crop=%d:%d:%d:%d,showinfo", c.Dx(), c.Dy(), c.Min.X, c.Min.Y),
		"-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("analyze frames: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("analyze frames: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("analyze frames: start ffmpeg: %w", err)
	}
	var (
		pts   []int64
		tbNum int64 = 1
		tbDen int64 = 1000
		tail  []string
		errWG sync.WaitGroup
	)
	errWG.Add(1)
	go func() {
		defer errWG.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if v, ok := parsePTS(l); ok {
				pts = append(pts, v)
				continue
			}
			if n, d, ok := parseTimebase(l); ok {
				tbNum, tbDen = n, d
				continue
			}
			if len(tail) < 20 && !strings.Contains(l, "Parsed_showinfo") {
				tail = append(tail, l)
			}
		}
	}()
	size := c.Dx() * c.Dy() * 3
	type uniq struct {
		first int
		img   *image.RGBA
	}
	seen := map[[32]byte]*uniq{}
	var order []*uniq
	var res Result
	br := bufio.NewReaderSize(stdout, size)
	for i := 0; ; i++ {
		buf := make([]byte, size)
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("analyze frames: truncated frame %d", i)
			}
			return nil, fmt.Errorf("analyze frames: read frame %d: %w", i, err)
		}
		h := sha256.Sum256(buf)
		u, ok := seen[h]
		if !ok {
			u = &uniq{first: i, img: toRGBA(buf, c.Dx(), c.Dy())}
			seen[h] = u
			order = append(order, u)
		}
		res.Frames = append(res.Frames, Frame{Index: i, Unique: u.first, Black: blackFraction(buf, c.Dx(), field)})
	}
	errWG.Wait()
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("analyze frames: ffmpeg: %w: %s", err, strings.Join(tail, "; "))
	}
	if len(res.Frames) == 0 {
		return nil, fmt.Errorf("analyze frames: recording has no frames: %s", strings.Join(tail, "; "))
	}
	if len(pts) == len(res.Frames) && tbDen != 0 {
		for i := range res.Frames {
			res.Frames[i].PTS = ptsTime(pts[i], tbNum, tbDen)
		}
	} else {
		opts.Log.Warn("frame timestamps unavailable", "frames", len(res.Frames), "timestamps", len(pts))
	}

	// OCR each distinct frame once, in parallel, unless every frame showing it is skipped.
	needed := make(map[int]bool, len(order))
	for i := range res.Frames {
		f := &res.Frames[i]
		f.Skipped = opts.Skip != nil && opts.Skip(f.PTS)
		if !f.Skipped {
			needed[f.Unique] = true
		}
	}
	digits := make(map[int]int, len(order))
	var mu sync.Mutex
	work := make(chan *uniq)
	var ocrErr error
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				d, err := ocrScore(ctx, u.img, opts)
				mu.Lock()
				if err != nil && ocrErr == nil {
					ocrErr = err
				}
				digits[u.first] = d
				mu.Unlock()
			}
		}()
	}
	for _, u := range order {
		if needed[u.first] {
			work <- u
		}
	}
	close(work)
	wg.Wait()
	if ocrErr != nil {
		return nil, fmt.Errorf("analyze frames: %w", ocrErr)
	}
	for i := range res.Frames {
		if !res.Frames[i].Skipped {
			res.Frames[i].Digits = digits[res.Frames[i].Unique]
		}
	}
	res.Summary = summarize(res.Frames)
	res.Summary.Unique = len(order)
	for _, u := range order {
		if u.first == res.Frames[res.Summary.WorstIndex].Unique {
			res.Worst = u.img
		}
	}
	return &res, nil
}

// parsePTS reads the pts of a showinfo frame line.
func parsePTS(line string) (int64, bool) {
	m := showinfoRe.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[2], 10, 64)
	return v, err == nil
}

// ptsTime converts pts in units of num/den seconds to a time without overflowing: wall-clock
// pts in milliseconds times 1e9 would not fit in an int64.
func ptsTime(pts, num, den int64) time.Time {
	t := pts * num
	sec, rem := t/den, t%den
	return time.Unix(sec, rem*int64(time.Second)/den)
}

// parseTimebase reads showinfo's input time base; it rejects a zero or absurd one.
func parseTimebase(line string) (num, den int64, ok bool) {
	m := timebaseRe.FindStringSubmatch(line)
	if m == nil {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(m[1], 10, 64)
	d, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil || n <= 0 || d <= 0 || n > 1<<20 || d > 1<<32 {
		return 0, 0, false
	}
	return n, d, true
}

func summarize(fs []Frame) Summary {
	s := Summary{Frames: len(fs), MinBlack: 1}
	for i, f := range fs {
		if f.Digits > s.MaxDigits {
			s.MaxDigits, s.WorstIndex = f.Digits, i
		}
		if f.Digits >= 7 {
			s.Over6++
		}
		s.MinBlack = min(s.MinBlack, f.Black)
	}
	s.WorstTime = fs[s.WorstIndex].PTS
	var ds []time.Duration
	for i := 1; i < len(fs); i++ {
		if !fs[i].PTS.IsZero() && !fs[i-1].PTS.IsZero() {
			ds = append(ds, fs[i].PTS.Sub(fs[i-1].PTS))
		}
	}
	if len(ds) > 0 {
		sorted := append([]time.Duration(nil), ds...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
		med := sorted[len(sorted)/2]
		for i, d := range ds {
			if d > med*3/2 {
				s.Gaps = append(s.Gaps, Gap{After: i, Dur: d})
			}
			s.MaxGap = max(s.MaxGap, d)
		}
	}
	return s
}

func toRGBA(buf []byte, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i+2 < len(buf); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = buf[i], buf[i+1], buf[i+2], 255
	}
	return img
}

func blackFraction(buf []byte, w int, field image.Rectangle) float64 {
	n := 0
	for y := field.Min.Y; y < field.Max.Y; y++ {
		for x := field.Min.X; x < field.Max.X; x++ {
			i := 3 * (y*w + x)
			if buf[i] <= 24 && buf[i+1] <= 24 && buf[i+2] <= 24 {
				n++
			}
		}
	}
	return float64(n) / float64(field.Dx()*field.Dy())
}

// ocrScore runs every pass over img and returns the best score. Text goes from tesseract's
// stdout straight into the scorer and is dropped; nothing is written to disk.
func ocrScore(ctx context.Context, img *image.RGBA, opts Options) (int, error) {
	src := image.Image(img)
	if opts.Scale > 1 {
		src = scale(img, opts.Scale)
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, src); err != nil {
		return 0, fmt.Errorf("encode frame: %w", err)
	}
	best := 0
	for _, p := range opts.Passes {
		args := []string{"stdin", "stdout", "--psm", strconv.Itoa(p.PSM), "-l", "eng", "--dpi", "96"}
		if p.DigitOnly {
			args = append(args, "-c", "tessedit_char_whitelist=0123456789 -")
		}
		cmd := exec.CommandContext(ctx, "tesseract", args...)
		cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
		cmd.Stdin = bytes.NewReader(pngBuf.Bytes())
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("tesseract psm %d: %w: %s", p.PSM, err, firstLine(errb.String()))
		}
		best = max(best, Score(string(out), opts.PAN))
		clear(out)
		if best >= len(opts.PAN) {
			break // the whole number was read: no pass can score higher
		}
	}
	return best, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func scale(img *image.RGBA, k int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			si := img.PixOffset(x/k, y/k)
			di := out.PixOffset(x, y)
			copy(out.Pix[di:di+4], img.Pix[si:si+4])
		}
	}
	return out
}

// Score returns the longest run of consecutive digits of pan visible on one line of text.
// Digits separated only by spaces or dashes count as one run (as card numbers are grouped);
// any other character breaks it. A run matches if it is a substring of pan, so a partial
// read anywhere in the number counts.
func Score(text, pan string) int {
	best := 0
	for _, line := range strings.Split(text, "\n") {
		var run []byte
		flush := func() {
			best = max(best, longestCommon(run, pan))
			run = run[:0]
		}
		for i := 0; i < len(line); i++ {
			ch := line[i]
			switch {
			case ch >= '0' && ch <= '9':
				run = append(run, ch)
			case ch == ' ' || ch == '-':
				// inside a grouped number: keep the run going
			default:
				flush()
			}
		}
		flush()
		clear(run)
	}
	return best
}

// longestCommon is the length of the longest common substring of a and b.
func longestCommon(a []byte, b string) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	best := 0
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
				best = max(best, cur[j])
			} else {
				cur[j] = 0
			}
		}
		prev, cur = cur, prev
	}
	return best
}
