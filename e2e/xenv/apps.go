package xenv

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

//go:embed testdata/cardentry.py
var cardEntryPy []byte

// AppKind names an application with a card-number field.
type AppKind string

const (
	XTerm  AppKind = "xterm"  // a shell prompt: read -p "Card number: "
	Zenity AppKind = "zenity" // zenity --forms with a "Card number" entry
	Yad    AppKind = "yad"    // yad --form with a "Card number" field
	Tk     AppKind = "tk"     // the project's own Tk entry (python3-tk)
)

// AllApps lists every kind, in a stable order.
var AllApps = []AppKind{XTerm, Zenity, Yad, Tk}

// Programs returns what must be installed to launch kind.
func (k AppKind) Programs() []string {
	switch k {
	case Tk:
		return []string{"python3", "xdotool"}
	default:
		return []string{string(k), "xdotool"}
	}
}

// App is a launched application window.
type App struct {
	Kind   AppKind
	Title  string
	Window string // X window id as xdotool prints it (decimal)
	// Field is the card field's screen rectangle where the app reports it (Tk); otherwise the
	// window's rectangle, which contains the field.
	Field image.Rectangle
	// Rect is the window's client area on screen.
	Rect image.Rectangle

	cmd  *exec.Cmd
	lens chan int // Tk only: the entry's length as it changes
}

// Close stops the application.
func (a *App) Close() { stop(a.cmd) }

// WaitFieldLen waits until the entry holds n characters (Tk only: the app reports its length,
// never its content).
func (a *App) WaitFieldLen(ctx context.Context, n int) error {
	if a.lens == nil {
		return fmt.Errorf("%s does not report its field length", a.Kind)
	}
	last := -1
	for {
		select {
		case l := <-a.lens:
			if l == n {
				return nil
			}
			last = l
		case <-ctx.Done():
			return fmt.Errorf("field length %d, want %d: %w", last, n, ctx.Err())
		}
	}
}

// StartApp launches kind titled title, waits until its window is mapped and focused, and
// returns it. The app is stopped by Env.Close.
func (e *Env) StartApp(ctx context.Context, kind AppKind, title string) (*App, error) {
	if err := Need(kind.Programs()...); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	var args []string
	switch kind {
	case XTerm:
		args = []string{"xterm", "-title", title, "-fa", "DejaVu Sans Mono", "-fs", "22",
			"-bg", "white", "-fg", "black", "-geometry", "36x3+40+40", "-xrm", "XTerm*cursorBlink: false",
			"-e", "bash", "--norc", "-c", `read -r -p "Card number: " _; exec sleep 3600`}
	case Zenity:
		args = []string{"zenity", "--forms", "--title", title, "--text", "Payment", "--add-entry", "Card number", "--width", "760"}
	case Yad:
		args = []string{"yad", "--form", "--title", title, "--field", "Card number", "--width", "760", "--posx", "40", "--posy", "40"}
	case Tk:
		py := filepath.Join(e.dir, "cardentry.py")
		if err := os.WriteFile(py, cardEntryPy, 0o600); err != nil {
			return nil, fmt.Errorf("start tk: %w", err)
		}
		args = []string{"python3", py, title}
	default:
		return nil, fmt.Errorf("start app: unknown kind %q", kind)
	}
	cmd := e.Command(context.Background(), args[0], args[1:]...)
	var fieldLine chan string
	a := &App{Kind: kind, Title: title, cmd: cmd}
	if kind == Tk {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("start tk: %w", err)
		}
		fieldLine = make(chan string, 1)
		a.lens = make(chan int, 64)
		// Owned by the app: ends when the process exits and closes its stdout.
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				l := sc.Text()
				var n int
				if strings.HasPrefix(l, "FIELD ") {
					fieldLine <- l
				} else if _, err := fmt.Sscanf(l, "LEN %d", &n); err == nil {
					select {
					case a.lens <- n:
					default: // nobody waiting; drop rather than block the app
					}
				}
			}
		}()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	e.track(cmd)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := e.Command(wctx, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^"+title+"$").Output()
	if err != nil {
		return nil, fmt.Errorf("start %s: window %q did not appear: %w", kind, title, err)
	}
	a.Window = strings.Fields(string(out))[0]
	if out, err := e.Command(wctx, "xdotool", "windowactivate", "--sync", a.Window).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start %s: activate: %w: %s", kind, err, out)
	}
	if fieldLine != nil {
		select {
		case l := <-fieldLine:
			var x, y, w, h int
			if _, err := fmt.Sscanf(l, "FIELD %d %d %d %d", &x, &y, &w, &h); err != nil {
				return nil, fmt.Errorf("start tk: bad field line %q: %w", l, err)
			}
			a.Field = image.Rect(x, y, x+w, y+h)
		case <-wctx.Done():
			return nil, fmt.Errorf("start tk: no field report: %w", wctx.Err())
		}
	}
	r, err := e.WindowRect(wctx, a.Window)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	a.Rect = r
	if a.Field.Empty() {
		a.Field = r
	}
	// Give the toolkit a moment past mapping to draw the focused entry before typing; X has no
	// "finished painting" event to wait on.
	time.Sleep(300 * time.Millisecond)
	return a, nil
}

// WindowRect returns a window's on-screen rectangle (its client area, without the frame).
func (e *Env) WindowRect(ctx context.Context, win string) (image.Rectangle, error) {
	id, err := strconv.ParseUint(win, 10, 32)
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("geometry of window %q: bad id: %w", win, err)
	}
	conn, err := xgb.NewConnDisplay(e.Display)
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("geometry of window %s: %w", win, err)
	}
	defer conn.Close()
	w := xproto.Window(id)
	g, err := xproto.GetGeometry(conn, xproto.Drawable(w)).Reply()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("geometry of window %s: %w", win, err)
	}
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	tr, err := xproto.TranslateCoordinates(conn, w, root, 0, 0).Reply()
	if err != nil {
		return image.Rectangle{}, fmt.Errorf("position of window %s: %w", win, err)
	}
	x, y := int(tr.DstX), int(tr.DstY)
	return image.Rect(x, y, x+int(g.Width), y+int(g.Height)), nil
}
