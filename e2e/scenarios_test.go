//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pcipause/e2e/frames"
	"pcipause/e2e/xenv"
)

// recording is a film kept in memory: its bytes, the screen rectangle captured, and when the
// recorder was ready (fn started).
type recording struct {
	video    []byte
	captured image.Rectangle
	from     time.Time
}

// record captures region at 30 fps while fn runs, plus half a second for the last key to
// render, and returns the video in memory along with what was captured.
func record(t *testing.T, ctx context.Context, env *xenv.Env, region image.Rectangle, fn func() error) recording {
	t.Helper()
	var video bytes.Buffer
	rec, err := env.Record(ctx, region, 30, &video)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	fnErr := fn()
	time.Sleep(500 * time.Millisecond)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if fnErr != nil {
		t.Fatal(fnErr)
	}
	return recording{video: video.Bytes(), captured: rec.Region, from: from}
}

// leakCheck analyses the part of a recording that shows screen rectangle r and fails the test
// if more than six card digits are readable in any frame.
func leakCheck(t *testing.T, ctx context.Context, rc recording, r image.Rectangle, what string) *frames.Result {
	t.Helper()
	crop := r.Intersect(rc.captured).Sub(rc.captured.Min)
	res, err := frames.Analyze(ctx, rc.video, frames.Options{Crop: crop, PAN: testPAN, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", what, res.Summary)
	warnSparse(t, what, res, rc.from)
	if res.Summary.MaxDigits > 6 {
		t.Errorf("%s: %d card digits readable in frame %d (at %s), want <= 6", what, res.Summary.MaxDigits,
			res.Summary.WorstIndex, res.Summary.WorstTime.UTC().Format("15:04:05.000"))
	}
	return res
}

func backspaces(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "BackSpace"
	}
	return keys
}

// awayFor is how long the focus-switching test stays on the other application: longer than
// the default hold-down (500 ms), so masks released by the switch are really gone.
const awayFor = 800 * time.Millisecond

func activate(ctx context.Context, env *xenv.Env, a *xenv.App) error {
	out, err := env.Command(ctx, "xdotool", "windowactivate", "--sync", a.Window).CombinedOutput()
	if err != nil {
		return fmt.Errorf("activate %s: %w: %s", a.Title, err, out)
	}
	return nil
}

// TestLocalFocusSwitchingDuringEntry types the start of a card number, switches to another
// application and back, and finishes it: the digits already in the field plus the new ones
// must never be readable beyond six. The agent stays on the other application longer than
// the hold-down, so the mask over the first digits really comes down before the return.
func TestLocalFocusSwitchingDuringEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	env := xenv.ForTest(t, xenv.Options{}, "ffmpeg", "tesseract", "python3", "zenity", "go")
	local := startLocal(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	since := time.Now()
	other, err := env.StartApp(ctx, xenv.Zenity, "pcipause e2e other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	app, err := env.StartApp(ctx, xenv.Tk, "pcipause e2e focus")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	rc := record(t, ctx, env, image.Rectangle{}, func() error {
		away := func() error {
			if err := activate(ctx, env, other); err != nil {
				return err
			}
			time.Sleep(awayFor)
			return activate(ctx, env, app)
		}
		for _, step := range []func() error{
			func() error { return env.Type(ctx, "4111 1", 20*time.Millisecond) },
			away,
			func() error { return env.Type(ctx, "1", 20*time.Millisecond) },
			away,
			func() error { return env.Type(ctx, "11 1111 1111", 20*time.Millisecond) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err := app.WaitFieldLen(ctx, len("4111 1111 1111 1111")); err != nil {
		t.Errorf("keys did not all reach the entry: %v", err)
	}
	leakCheck(t, ctx, rc, app.Rect, "tk after focus switches")
	// The card typed in three pieces is still one card: it must have paused the recording.
	waitUntil(t, 20*time.Second, "a pause call for the card typed in pieces", func() bool {
		_, ok := firstOK(local.calls(t), "pause", since)
		return ok
	})
}

// TestLocalWindowMovedWhileMasked moves the application while its field is masked: the mask
// must follow, so no frame at either position shows the number.
func TestLocalWindowMovedWhileMasked(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	env := xenv.ForTest(t, xenv.Options{}, "ffmpeg", "tesseract", "python3", "go")
	startLocal(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	app, err := env.StartApp(ctx, xenv.Tk, "pcipause e2e move")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var moved image.Rectangle
	rc := record(t, ctx, env, image.Rectangle{}, func() error {
		if err := env.Type(ctx, "4111 1111 1111 1111", 20*time.Millisecond); err != nil {
			return err
		}
		// The helper pinned a mask inside the window's frame, which the X server moves with it.
		if err := waitAnchored(ctx, env, app.Window); err != nil {
			return err
		}
		// Two moves and a pause after each, then a drag: 40 small steps back and forth, each
		// a chance for a frame to be grabbed between the window moving and the mask following.
		path := []image.Point{{200, 250}, {330, 380}}
		for i := range 40 {
			path = append(path, image.Pt(330-(i%20)*6, 380-(i%20)*4))
		}
		for i, p := range path {
			if out, err := env.Command(ctx, "xdotool", "windowmove", "--sync", app.Window, strconv.Itoa(p.X), strconv.Itoa(p.Y)).CombinedOutput(); err != nil {
				return fmt.Errorf("move window: %w: %s", err, out)
			}
			if i < 2 {
				time.Sleep(300 * time.Millisecond)
			}
		}
		r, err := env.WindowRect(ctx, app.Window)
		moved = r
		return err
	})
	if moved == app.Rect {
		t.Fatalf("window did not move (still at %v)", moved)
	}
	leakCheck(t, ctx, rc, app.Rect.Union(moved), "tk moved while masked")
}

// waitAnchored waits until the overlay's anchor window is a child of win's frame.
func waitAnchored(ctx context.Context, env *xenv.Env, win string) error {
	var tree []byte
	for range 100 {
		out, err := env.Command(ctx, "xwininfo", "-root", "-tree").CombinedOutput()
		if err != nil {
			return fmt.Errorf("xwininfo: %w: %s", err, out)
		}
		tree = out
		if anchoredIn(string(out), win) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no mask anchor inside the frame of window %s:\n%s", win, tree)
}

// anchoredIn reads `xwininfo -root -tree` output: is a window named "pcipause mask anchor" a
// sibling of win (both children of its frame)?
func anchoredIn(tree, win string) bool {
	id, err := strconv.ParseUint(win, 0, 32) // decimal as xdotool prints it, or 0x hex
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0x%x ", id)
	lines := strings.Split(tree, "\n")
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), want) {
			continue
		}
		// Siblings share the indent, up to the parent's line.
		for _, dir := range []int{-1, 1} {
			for j := i + dir; j >= 0 && j < len(lines) && indent(lines[j]) >= indent(l); j += dir {
				if indent(lines[j]) == indent(l) && strings.Contains(lines[j], `"pcipause mask anchor"`) {
					return true
				}
			}
		}
	}
	return false
}

// TestLocalHelperKilledWhileMasked kills the session helper while a card number is in the
// field: the recording must stay paused (the service fails closed), and the restarted helper
// must mask again.
func TestLocalHelperKilledWhileMasked(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test; skipped with -short")
	}
	env := xenv.ForTest(t, xenv.Options{}, "ffmpeg", "tesseract", "python3", "go", "pgrep")
	local := startLocal(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	app, err := env.StartApp(ctx, xenv.Tk, "pcipause e2e kill")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	since := time.Now()
	if err := env.Type(ctx, "4111 1111 1111 1111", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var pause simCall
	waitUntil(t, 20*time.Second, "a pause call in the simulator", func() bool {
		var ok bool
		pause, ok = firstOK(local.calls(t), "pause", since)
		return ok
	})
	helper := helperPID(t, local)
	if err := syscall.Kill(helper, syscall.SIGKILL); err != nil {
		t.Fatalf("kill helper %d: %v", helper, err)
	}
	killed := time.Now()
	waitUntil(t, 30*time.Second, "a new session helper", func() bool {
		p, ok := tryHelperPID(local)
		return ok && p != helper
	})
	// Give the new helper a moment to come up and reconcile with the service before judging.
	time.Sleep(2 * time.Second)
	rc := record(t, ctx, env, app.Rect, func() error { return nil })
	leakCheck(t, ctx, rc, app.Rect, "tk after the helper restarted")
	if c, ok := firstOK(local.calls(t), "resume", pause.Time); ok {
		t.Errorf("recording resumed %s after the helper was killed, with the card number still in the field",
			c.Time.Sub(killed).Round(time.Millisecond))
	}
}

func tryHelperPID(l *localRun) (int, bool) {
	out, err := exec.Command("pgrep", "-P", strconv.Itoa(l.cmd.Process.Pid), "-x", "pcipause-sessio").Output()
	if err != nil {
		out, err = exec.Command("pgrep", "-P", strconv.Itoa(l.cmd.Process.Pid)).Output()
		if err != nil {
			return 0, false
		}
	}
	f := strings.Fields(string(out))
	if len(f) != 1 {
		return 0, false
	}
	p, err := strconv.Atoi(f[0])
	return p, err == nil
}

func helperPID(t *testing.T, l *localRun) int {
	t.Helper()
	p, ok := tryHelperPID(l)
	if !ok {
		t.Fatal("no session helper process under pcipause local")
	}
	return p
}

// TestAnchoredIn checks the xwininfo tree reading that waitAnchored relies on.
func TestAnchoredIn(t *testing.T) {
	tree := `
  Root window id: 0x3ff (the root window) (has no name)
  3 children:
     0x600003 "pcipause mask": ()  10x10+0+0  +0+0
     0x400001 (has no name): ()  536x165+244+298  +244+298
        2 children:
        0x600005 "pcipause mask anchor": ()  534x144+1+20  +245+319
        0xe0001b "pcipause e2e move": ("tk" "Tk")  534x144+1+20  +245+319
           1 child:
           0xe0001c (has no name): ()  534x144+0+0  +245+319
     0x400009 (has no name): ()  300x200+0+0  +0+0
        1 child:
        0xa00001 "other": ()  300x200+0+0  +0+0
`
	for _, tt := range []struct {
		win  string
		want bool
	}{
		{"14680091", true}, // 0xe0001b
		{"0xe0001b", true},
		{"10485761", false}, // 0xa00001: another frame
		{"14680092", false}, // 0xe0001c: a child of the app, not of the frame
		{"nonsense", false},
	} {
		if got := anchoredIn(tree, tt.win); got != tt.want {
			t.Errorf("anchoredIn(%s) = %v, want %v", tt.win, got, tt.want)
		}
	}
}
