// Package xenv runs a private X session for end-to-end tests and demos: Xvfb on a free display
// in a given range plus openbox, card-entry applications with predictable titles and readable
// fonts, typing through xdotool, and screen recording with ffmpeg x11grab.
package xenv

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// Options configures Start.
type Options struct {
	// First and Last bound the display numbers tried (inclusive).
	First, Last int
	// Size of the screen; default 1024x768.
	Size image.Point
	// NoWM skips openbox. Most apps need a window manager for focus (EWMH), so it runs by default.
	NoWM bool
	// Accessibility leaves the GTK accessibility bridge on (off by default: no AT-SPI bus here).
	Accessibility bool
	Log           *slog.Logger
}

// Env is a running private X session.
type Env struct {
	Display string // ":75"
	Num     int
	Size    image.Point
	dir     string // private HOME / XDG_CONFIG_HOME root
	log     *slog.Logger
	access  bool

	xvfb *exec.Cmd
	wm   *exec.Cmd
	bus  *exec.Cmd // the session's D-Bus daemon, when dbus-daemon is installed

	mu   sync.Mutex
	apps []*exec.Cmd
}

// ErrMissing reports that a required program is not installed.
var ErrMissing = errors.New("program not installed")

// Need returns an error wrapping ErrMissing naming each program not on PATH.
func Need(progs ...string) error {
	var miss []string
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		return fmt.Errorf("%w: %s", ErrMissing, strings.Join(miss, ", "))
	}
	return nil
}

// Start launches Xvfb on the first free display in [First, Last] (-nolisten tcp) and, unless
// NoWM, openbox, and returns once both are ready.
func Start(ctx context.Context, opts Options) (*Env, error) {
	if opts.Size == (image.Point{}) {
		opts.Size = image.Pt(1024, 768)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Last < opts.First {
		return nil, fmt.Errorf("xenv: empty display range %d-%d", opts.First, opts.Last)
	}
	progs := []string{"Xvfb"}
	if !opts.NoWM {
		progs = append(progs, "openbox")
	}
	if err := Need(progs...); err != nil {
		return nil, fmt.Errorf("xenv: %w", err)
	}
	dir, err := os.MkdirTemp("", "pcipause-xenv-")
	if err != nil {
		return nil, fmt.Errorf("xenv: %w", err)
	}
	e := &Env{Size: opts.Size, dir: dir, log: opts.Log.With("component", "xenv"), access: opts.Accessibility}
	if err := e.writeConfig(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("xenv: %w", err)
	}
	var lastErr error
	for n := opts.First; n <= opts.Last; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		if err := e.startXvfb(ctx, n); err != nil {
			lastErr = err
			continue
		}
		break
	}
	if e.xvfb == nil {
		os.RemoveAll(dir)
		if lastErr == nil {
			lastErr = errors.New("all in use")
		}
		return nil, fmt.Errorf("xenv: no free display in :%d-:%d: %w", opts.First, opts.Last, lastErr)
	}
	if err := e.startBus(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("xenv: %w", err)
	}
	if !opts.NoWM {
		if err := e.startWM(ctx); err != nil {
			e.Close()
			return nil, fmt.Errorf("xenv: %w", err)
		}
	}
	return e, nil
}

// startBus gives the session its own D-Bus session bus when dbus-daemon is installed, as a
// desktop has. Without one, GTK applications autolaunch a bus daemon that outlives the session.
func (e *Env) startBus(ctx context.Context) error {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		return nil
	}
	sock := filepath.Join(e.dir, "runtime", "bus")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	cmd.Env = e.Environ()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dbus-daemon: %w", err)
	}
	e.bus = cmd
	return e.waitFor(ctx, 10*time.Second, "the session bus", func() bool {
		fi, err := os.Stat(sock)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
}

func (e *Env) startXvfb(ctx context.Context, n int) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-nolisten", "tcp", "-noreset",
		"-screen", "0", fmt.Sprintf("%dx%dx24", e.Size.X, e.Size.Y), "-displayfd", "3")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start Xvfb :%d: %w", n, err)
	}
	w.Close()
	// Xvfb writes the display number to fd 3 once it accepts connections, or exits.
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case line := <-got:
		if line != strconv.Itoa(n) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("Xvfb :%d did not start (display in use?)", n)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		r.Close()
		return fmt.Errorf("Xvfb :%d not ready after 15s", n)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		r.Close()
		return ctx.Err()
	}
	e.xvfb, e.Num, e.Display = cmd, n, fmt.Sprintf(":%d", n)
	return nil
}

func (e *Env) startWM(ctx context.Context) error {
	cmd := exec.Command("openbox", "--sm-disable")
	cmd.Env = e.Environ()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start openbox: %w", err)
	}
	e.wm = cmd
	// openbox is ready once it has published _NET_SUPPORTING_WM_CHECK on the root window.
	conn, err := xgb.NewConnDisplay(e.Display)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", e.Display, err)
	}
	defer conn.Close()
	atom, err := xproto.InternAtom(conn, false, uint16(len("_NET_SUPPORTING_WM_CHECK")), "_NET_SUPPORTING_WM_CHECK").Reply()
	if err != nil {
		return fmt.Errorf("intern atom: %w", err)
	}
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	if err := e.waitFor(ctx, 15*time.Second, "openbox", func() bool {
		p, err := xproto.GetProperty(conn, false, root, atom.Atom, xproto.AtomWindow, 0, 1).Reply()
		return err == nil && p.ValueLen > 0
	}); err != nil {
		return err
	}
	// openbox publishes the property before it handles map requests, and one sent in between
	// can be lost: the window then stays unmapped and unmanaged. Ready means a probe window
	// got its frame; its map request is sent again on every poll until then.
	probe, err := xproto.NewWindowId(conn)
	if err != nil {
		return fmt.Errorf("allocate probe window id: %w", err)
	}
	if err := xproto.CreateWindowChecked(conn, 0, probe, root, 0, 0, 10, 10, 0,
		xproto.WindowClassInputOutput, 0, 0, nil).Check(); err != nil {
		return fmt.Errorf("create probe window: %w", err)
	}
	if err := e.waitFor(ctx, 15*time.Second, "openbox to manage windows", func() bool {
		t, err := xproto.QueryTree(conn, probe).Reply()
		if err == nil && t.Parent != root {
			return true
		}
		xproto.MapWindow(conn, probe)
		return false
	}); err != nil {
		return err
	}
	// Gone from openbox's client list too, so no test sees the probe as a window of its own.
	if err := xproto.DestroyWindowChecked(conn, probe).Check(); err != nil {
		return fmt.Errorf("destroy probe window: %w", err)
	}
	clients, err := xproto.InternAtom(conn, false, uint16(len("_NET_CLIENT_LIST")), "_NET_CLIENT_LIST").Reply()
	if err != nil {
		return fmt.Errorf("intern atom: %w", err)
	}
	return e.waitFor(ctx, 15*time.Second, "openbox to forget the probe window", func() bool {
		p, err := xproto.GetProperty(conn, false, root, clients.Atom, xproto.AtomWindow, 0, 1024).Reply()
		if err != nil {
			return false
		}
		for i := 0; i+4 <= len(p.Value); i += 4 {
			if xproto.Window(binary.LittleEndian.Uint32(p.Value[i:])) == probe {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond every 50 ms: used only where X gives no event to wait on (another
// process's start-up).
func (e *Env) waitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

func (e *Env) writeConfig() error {
	gtk := filepath.Join(e.dir, "config", "gtk-3.0")
	if err := os.MkdirAll(gtk, 0o700); err != nil {
		return err
	}
	// Large monospace type and no blinking cursor make GTK entries readable for OCR and keep
	// identical frames identical.
	settings := "[Settings]\ngtk-font-name=DejaVu Sans Mono 22\ngtk-cursor-blink=false\ngtk-enable-animations=false\n"
	if err := os.WriteFile(filepath.Join(gtk, "settings.ini"), []byte(settings), 0o600); err != nil {
		return err
	}
	// zenity's form entry does not grow with the dialog; a minimum width lets all 19 characters
	// of a grouped card number show instead of scrolling.
	css := "entry { min-width: 560px; }\n"
	if err := os.WriteFile(filepath.Join(gtk, "gtk.css"), []byte(css), 0o600); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(e.dir, "runtime"), 0o700)
}

// Environ is the environment for programs run inside the session.
func (e *Env) Environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "GTK_THEME", "NO_AT_BRIDGE",
			"DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DISPLAY="+e.Display,
		"XDG_CONFIG_HOME="+filepath.Join(e.dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(e.dir, "runtime"),
		"GTK_THEME=Adwaita", "GDK_BACKEND=x11")
	if !e.access {
		env = append(env, "NO_AT_BRIDGE=1")
	}
	if e.bus != nil {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(e.dir, "runtime", "bus"))
	}
	return env
}

// Command prepares a command that runs inside the session.
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.Environ()
	return cmd
}

// Type types text into the focused window with xdotool at delay per key. The text is passed
// as an argument, never through a file. xdotool's --delay is split between key press and
// release and spends only half of it per key (measured: --delay 100 types 20 keys in about
// 1.0 s), so it is given twice the delay.
func (e *Env) Type(ctx context.Context, text string, delay time.Duration) error {
	ms := int(2 * delay / time.Millisecond)
	out, err := e.Command(ctx, "xdotool", "type", "--delay", strconv.Itoa(ms), "--", text).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool type: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Key sends key names (xdotool syntax, e.g. "ctrl+a", "BackSpace") to the focused window.
func (e *Env) Key(ctx context.Context, keys ...string) error {
	out, err := e.Command(ctx, "xdotool", append([]string{"key", "--delay", "20"}, keys...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool key: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Click moves the pointer to p and clicks button 1.
func (e *Env) Click(ctx context.Context, p image.Point) error {
	out, err := e.Command(ctx, "xdotool", "mousemove", "--sync", strconv.Itoa(p.X), strconv.Itoa(p.Y), "click", "1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool click: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Close stops the applications, openbox and Xvfb, and removes the private config.
func (e *Env) Close() error {
	e.mu.Lock()
	apps := e.apps
	e.apps = nil
	e.mu.Unlock()
	for _, c := range apps {
		stop(c)
	}
	if e.wm != nil {
		stop(e.wm)
	}
	if e.bus != nil {
		stop(e.bus) // services it activated (the accessibility bus launcher) exit with it
	}
	if e.xvfb != nil {
		stop(e.xvfb)
	}
	return os.RemoveAll(e.dir)
}

// stop asks a process to terminate and kills it if it does not within 3 s.
func stop(c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// track remembers an app so Close stops it.
func (e *Env) track(c *exec.Cmd) {
	e.mu.Lock()
	e.apps = append(e.apps, c)
	e.mu.Unlock()
}

var _ io.Closer = (*Env)(nil)
