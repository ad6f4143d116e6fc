// Command demo is `make demo`: it runs pcipause the way an agent's desktop would — the
// simulator, the service and a session helper on a display — types a test card into a real
// desktop form while the screen is filmed like a contact-center recorder, and reports what the
// film shows, frame by frame, next to the timeline of mask, pause and resume.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"pcipause/daemon/store"
	"pcipause/e2e/frames"
	"pcipause/e2e/xenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type opts struct {
	bin, out, app, pan string
	delay              time.Duration
	private            bool
}

func run(ctx context.Context) error {
	var o opts
	flag.StringVar(&o.bin, "bin", "dist/linux-amd64", "directory holding pcipause and pcipause-session")
	flag.StringVar(&o.out, "out", "out", "output directory")
	flag.StringVar(&o.app, "app", "zenity", "form to type into: zenity or tk")
	flag.StringVar(&o.pan, "pan", xenv.TestCards[0].PAN, "test card number (a well-known test PAN)")
	flag.DurationVar(&o.delay, "delay", 120*time.Millisecond, "time between keys (human speed)")
	flag.BoolVar(&o.private, "private", false, "use a private Xvfb even when $DISPLAY is set")
	flag.Parse()
	if !xenv.IsTestPAN(o.pan) {
		return fmt.Errorf("--pan: only the well-known test PANs are allowed")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()

	// The display: the caller's, or a private Xvfb with openbox.
	d := &desk{display: os.Getenv("DISPLAY"), env: os.Environ()}
	if d.display == "" || o.private {
		e, err := xenv.Start(ctx, xenv.Options{First: 20, Last: 39, Size: image.Pt(1280, 800), Log: log})
		if err != nil {
			return fmt.Errorf("private X server: %w", err)
		}
		defer e.Close()
		d = &desk{display: e.Display, env: e.Environ(), x: e}
		step("display %s (private Xvfb + openbox)", d.display)
	} else {
		step("display %s (yours)", d.display)
	}
	size, err := d.screenSize(ctx)
	if err != nil {
		return err
	}

	// pcipause local: simulator + service + session helper.
	stateDir := filepath.Join(o.out, "demo-state")
	os.RemoveAll(stateDir)
	ready := filepath.Join(o.out, "demo.ready")
	os.Remove(ready)
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	local := d.command(lctx, filepath.Join(o.bin, "pcipause"), "local", "--ready-file", ready, "--state-dir", stateDir, "--no-tray")
	local.Cancel = func() error { return local.Process.Signal(syscall.SIGTERM) }
	local.WaitDelay = 5 * time.Second
	stdout, _ := local.StdoutPipe()
	logf, err := os.Create(filepath.Join(o.out, "demo-pcipause.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	local.Stderr = logf
	if err := local.Start(); err != nil {
		return fmt.Errorf("pcipause local: %w", err)
	}
	defer local.Wait()
	var info struct {
		ControlURL, StateDir, RecordingID string
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("pcipause local: no simulator line (see %s): %w", logf.Name(), err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		return fmt.Errorf("pcipause local: %w", err)
	}
	info.ControlURL, _ = raw["control_url"].(string)
	info.StateDir, _ = raw["state_dir"].(string)
	info.RecordingID, _ = raw["recording_id"].(string)
	if err := waitFile(ctx, ready, 20*time.Second); err != nil {
		return fmt.Errorf("masking never went live (see %s): %w", logf.Name(), err)
	}
	step("pcipause local is up: simulator, service, session helper (recording %s)", info.RecordingID)

	// Watch for the mask being mapped, independently of pcipause.
	maps, err := watchMaps(d.display)
	if err != nil {
		return err
	}

	// The recorder: the whole screen, 30 fps, wall-clock timestamps.
	video := filepath.Join(o.out, "demo.mkv")
	os.Remove(video)
	rec := d.command(ctx, "ffmpeg", "-loglevel", "error", "-f", "x11grab", "-framerate", "30", "-video_size",
		fmt.Sprintf("%dx%d", size.X, size.Y), "-i", d.display, "-copyts", "-fps_mode", "passthrough", "-c:v", "ffv1", video)
	rec.Cancel = func() error { return rec.Process.Signal(os.Interrupt) }
	rec.WaitDelay = 10 * time.Second
	if err := rec.Start(); err != nil {
		return fmt.Errorf("ffmpeg: %w", err)
	}
	time.Sleep(1500 * time.Millisecond) // x11grab start-up

	appWin, appRect, appCmd, err := d.startForm(ctx, o.app)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)

	// Type the card number key by key, timing each key.
	keyTimes := make([]time.Time, 0, len(o.pan))
	for _, c := range o.pan {
		keyTimes = append(keyTimes, time.Now())
		if err := d.xdotool(ctx, "key", string(c)); err != nil {
			return err
		}
		time.Sleep(o.delay)
	}
	step("typed a %d-digit test card number at %s per key", len(o.pan), o.delay)
	time.Sleep(1500 * time.Millisecond)
	// CVV and expiry in the next fields.
	if o.app == "zenity" {
		_ = d.xdotool(ctx, "key", "Tab")
		_ = d.xdotool(ctx, "type", "--delay", strconv.Itoa(int(o.delay/time.Millisecond)), "123")
		_ = d.xdotool(ctx, "key", "Tab")
		_ = d.xdotool(ctx, "type", "--delay", strconv.Itoa(int(o.delay/time.Millisecond)), "12/29")
		time.Sleep(time.Second)
		_ = d.xdotool(ctx, "key", "shift+Tab", "shift+Tab")
		step("typed CVV and expiry, back in the card field")
	}
	time.Sleep(500 * time.Millisecond)
	cleared := time.Now()
	if err := d.xdotool(ctx, "key", "ctrl+a", "BackSpace"); err != nil {
		return err
	}
	step("cleared the card field")
	time.Sleep(2 * time.Second)
	_ = d.xdotool(ctx, "key", "--window", appWin, "Escape")
	closeAt := time.Now()
	waitExit(appCmd, 3*time.Second)
	step("closed the form")
	time.Sleep(2 * time.Second)
	_ = rec.Cancel()
	_ = rec.Wait()

	// What the simulator saw.
	calls, intervals, err := simLog(info.ControlURL, info.RecordingID)
	if err != nil {
		return err
	}
	lcancel()
	_ = local.Wait()

	// Timeline.
	t0 := keyTimes[0]
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%+6d ms", t.Sub(t0).Milliseconds())
	}
	var maskAt time.Time
	for _, t := range maps.times() {
		if !t.Before(t0) {
			maskAt = t
			break
		}
	}
	var pauseSent, pauseApplied, resumeApplied time.Time
	for _, c := range calls {
		if c.Op == "pause" && pauseSent.IsZero() && !c.Time.Before(t0) {
			pauseSent = c.Time
		}
	}
	for _, iv := range intervals {
		if !iv.Start.Before(t0) && pauseApplied.IsZero() {
			pauseApplied = iv.Start
			if !iv.End.IsZero() && iv.End.Year() > 1 {
				resumeApplied = iv.End
			}
		}
	}
	trigger := keyTimes[min(len(keyTimes), 4)-1]

	// What the recording shows.
	step("analysing every recorded frame (OCR)...")
	res, err := frames.AnalyzeFile(ctx, video, frames.Options{Crop: appRect.Inset(-12).Intersect(image.Rectangle{Max: size}), PAN: o.pan, Log: log})
	if err != nil {
		return fmt.Errorf("frame analysis: %w", err)
	}
	worst := filepath.Join(o.out, "demo-worst-frame.png")
	if res.Worst != nil {
		if f, err := os.Create(worst); err == nil {
			_ = png.Encode(f, res.Worst)
			f.Close()
		}
	}

	// Deliverables: mp4 and GIF for people, audit export and verification for assessors.
	mp4 := filepath.Join(o.out, "demo.mp4")
	gif := filepath.Join(o.out, "demo.gif")
	_ = d.command(ctx, "ffmpeg", "-loglevel", "error", "-y", "-i", video, "-c:v", "libx264", "-pix_fmt", "yuv420p", mp4).Run()
	_ = d.command(ctx, "ffmpeg", "-loglevel", "error", "-y", "-i", mp4,
		"-vf", "fps=5,scale=640:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse", gif).Run()
	os.Remove(video)
	auditOut := filepath.Join(o.out, "demo-audit.jsonl")
	db := filepath.Join(info.StateDir, store.FileName)
	_ = d.command(ctx, filepath.Join(o.bin, "pcipause"), "audit", "export", "--db", db, "--out", auditOut).Run()
	verify := d.command(ctx, filepath.Join(o.bin, "pcipause"), "audit", "verify", "--db", db)
	vout, verr := verify.CombinedOutput()
	audit := "verified"
	if verr != nil {
		audit = "broken"
	}

	fmt.Println()
	fmt.Println("Timeline (from the first digit)")
	fmt.Printf("  first digit typed          %s\n", ms(t0))
	fmt.Printf("  4th digit typed (trigger)  %s\n", ms(trigger))
	fmt.Printf("  mask mapped on screen      %s   (%.1f ms after the trigger key)\n", ms(maskAt), float64(maskAt.Sub(trigger).Microseconds())/1000)
	fmt.Printf("  pause request received     %s   (simulator)\n", ms(pauseSent))
	fmt.Printf("  pause applied              %s   (simulator)\n", ms(pauseApplied))
	fmt.Printf("  field cleared              %s\n", ms(cleared))
	fmt.Printf("  form closed                %s\n", ms(closeAt))
	fmt.Printf("  resume applied             %s   (simulator)\n", ms(resumeApplied))
	fmt.Println()
	fmt.Printf("Recording: %d frames, %d distinct; most card digits readable in any frame: %d of %d (PCI DSS allows 6)\n",
		res.Summary.Frames, res.Summary.Unique, res.Summary.MaxDigits, len(o.pan))
	fmt.Printf("Audit chain: %s (%s)\n", audit, strings.TrimSpace(string(vout)))
	fmt.Printf("Outputs: %s  %s  %s  %s  (log %s)\n", mp4, gif, worst, auditOut, logf.Name())
	fmt.Printf("Took %s\n", time.Since(start).Round(time.Second))
	resumed := "no"
	if !resumeApplied.IsZero() {
		resumed = "yes"
	}
	maskMS := "none"
	if !maskAt.IsZero() {
		maskMS = fmt.Sprintf("%.1f", float64(maskAt.Sub(trigger).Microseconds())/1000)
	}
	pauseMS := "none"
	if !pauseApplied.IsZero() {
		pauseMS = strconv.FormatInt(pauseApplied.Sub(t0).Milliseconds(), 10)
	}
	fmt.Printf("DEMO app=%s frames=%d max_visible_digits=%d mask_ms=%s pause_applied_ms=%s resumed=%s audit=%s\n",
		o.app, res.Summary.Frames, res.Summary.MaxDigits, maskMS, pauseMS, resumed, audit)
	if res.Summary.MaxDigits > 6 || resumed != "yes" || audit != "verified" {
		return errors.New("the demo did not meet its promise (see above)")
	}
	return nil
}

func step(format string, a ...any) { fmt.Printf("• "+format+"\n", a...) }

// desk runs programs on the demo's display.
type desk struct {
	display string
	env     []string
	x       *xenv.Env
}

func (d *desk) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(d.env, "DISPLAY="+d.display)
	return c
}

func (d *desk) xdotool(ctx context.Context, args ...string) error {
	out, err := d.command(ctx, "xdotool", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool %s: %w: %s", args[0], err, out)
	}
	return nil
}

var dimRE = regexp.MustCompile(`dimensions:\s+(\d+)x(\d+)`)

func (d *desk) screenSize(ctx context.Context) (image.Point, error) {
	out, err := d.command(ctx, "xdpyinfo").Output()
	if err != nil {
		return image.Point{}, fmt.Errorf("xdpyinfo: %w", err)
	}
	m := dimRE.FindSubmatch(out)
	if m == nil {
		return image.Point{}, errors.New("xdpyinfo: no screen dimensions")
	}
	w, _ := strconv.Atoi(string(m[1]))
	h, _ := strconv.Atoi(string(m[2]))
	return image.Pt(w-w%2, h-h%2), nil
}

// startForm opens the payment form and returns its window id and rectangle.
func (d *desk) startForm(ctx context.Context, app string) (string, image.Rectangle, *exec.Cmd, error) {
	title := "pcipause demo - payment"
	var cmd *exec.Cmd
	switch app {
	case "zenity":
		cmd = d.command(context.Background(), "zenity", "--forms", "--title", title, "--text", "Take payment",
			"--add-entry", "Card number", "--add-entry", "CVV", "--add-entry", "Expiry (MM/YY)", "--width", "760")
	case "tk":
		if d.x == nil {
			return "", image.Rectangle{}, nil, errors.New("--app tk needs the private display (--private)")
		}
		a, err := d.x.StartApp(ctx, xenv.Tk, title)
		if err != nil {
			return "", image.Rectangle{}, nil, err
		}
		r, err := d.x.WindowRect(ctx, a.Window)
		return a.Window, r, nil, err
	default:
		return "", image.Rectangle{}, nil, fmt.Errorf("--app %q: want zenity or tk", app)
	}
	if err := cmd.Start(); err != nil {
		return "", image.Rectangle{}, nil, fmt.Errorf("%s: %w", app, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := d.command(wctx, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^"+title+"$").Output()
	if err != nil {
		return "", image.Rectangle{}, nil, fmt.Errorf("%s window did not appear: %w", app, err)
	}
	win := strings.Fields(string(out))[0]
	_ = d.xdotool(ctx, "windowmove", "--sync", win, "100", "100")
	_ = d.xdotool(ctx, "windowactivate", "--sync", win)
	geo, err := d.command(ctx, "xdotool", "getwindowgeometry", "--shell", win).Output()
	if err != nil {
		return "", image.Rectangle{}, nil, fmt.Errorf("window geometry: %w", err)
	}
	v := map[string]int{}
	for _, l := range strings.Fields(string(geo)) {
		k, val, _ := strings.Cut(l, "=")
		v[k], _ = strconv.Atoi(val)
	}
	r := image.Rect(v["X"], v["Y"], v["X"]+v["WIDTH"], v["Y"]+v["HEIGHT"])
	step("opened %s payment form at %v", app, r)
	return win, r, cmd, nil
}

func waitExit(cmd *exec.Cmd, d time.Duration) {
	if cmd == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitFile(ctx context.Context, path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not written within %s", path, d)
}

// mapWatch records when override-redirect windows (the masks) are mapped on the root window.
type mapWatch struct {
	ch  chan time.Time
	got []time.Time
}

func watchMaps(display string) (*mapWatch, error) {
	xgb.Logger = stdlog.New(io.Discard, "", 0)
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("x11 watch: %w", err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.ChangeWindowAttributesChecked(c, root, xproto.CwEventMask,
		[]uint32{xproto.EventMaskSubstructureNotify}).Check(); err != nil {
		return nil, fmt.Errorf("x11 watch: %w", err)
	}
	w := &mapWatch{ch: make(chan time.Time, 1024)}
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			if m, ok := ev.(xproto.MapNotifyEvent); ok && m.OverrideRedirect {
				select {
				case w.ch <- time.Now():
				default:
				}
			}
		}
	}()
	return w, nil
}

func (w *mapWatch) times() []time.Time {
	for {
		select {
		case t := <-w.ch:
			w.got = append(w.got, t)
		default:
			return w.got
		}
	}
}

type simCall struct {
	Time time.Time `json:"time"`
	Op   string    `json:"op"`
}

type simInterval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func simLog(control, rec string) ([]simCall, []simInterval, error) {
	var calls struct {
		Calls []simCall `json:"calls"`
	}
	if err := getJSON(control+"/calls", &calls); err != nil {
		return nil, nil, err
	}
	var iv struct {
		Intervals []simInterval `json:"intervals"`
	}
	if err := getJSON(control+"/intervals?target="+rec, &iv); err != nil {
		return nil, nil, err
	}
	return calls.Calls, iv.Intervals, nil
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return fmt.Errorf("simulator %s: %w", url, err)
	}
	return nil
}
