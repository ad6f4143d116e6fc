// Package tray shows the session helper's state in the notification area: one icon per state
// (recording, PCI active, degraded, not recording), a tooltip, and a read-only menu with the
// state and since when, the last pause reason, the version and "Copy diagnostics".
//
// It wraps fyne.io/systray: a StatusNotifierItem over the D-Bus session bus on Linux,
// Shell_NotifyIcon on Windows. No menu item turns masking off, and the tray never stops the
// helper: with no session bus or no tray host on the desktop, Run logs it once and keeps
// going without an icon, because masking matters more than the icon.
//
// Every text the tray shows or copies passes through Redact, which replaces any run of 13 or
// more digits (a card number's length, spaces and dashes allowed inside) — a second line of
// defence behind callers that never hand the tray a typed digit in the first place.
package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"pcipause/tray/icons"
)

// State is what the tray shows. The zero value is not a state; it is shown as Degraded.
type State int

// The tray's states.
const (
	// Recording: the agent is being recorded and no card data is on screen.
	Recording State = iota + 1
	// PCIActive: card data is on screen, masked locally, and the recording is paused.
	PCIActive
	// Degraded: something needs attention — the service is unreachable, CXone calls are
	// failing or the overlay self-check failed. Masking stays on; pauses may be late.
	Degraded
	// NotRecording: no recording is active for this agent.
	NotRecording
)

// String is the state's short label, as the menu shows it.
func (s State) String() string {
	switch s {
	case Recording:
		return "Recording"
	case PCIActive:
		return "Card data hidden · recording paused"
	case Degraded:
		return "Degraded"
	case NotRecording:
		return "Not recording"
	}
	return fmt.Sprintf("Unknown state %d", int(s))
}

func (s State) valid() bool { return s >= Recording && s <= NotRecording }

func (s State) icon() icons.Icon {
	switch s {
	case Recording:
		return icons.Recording
	case PCIActive:
		return icons.PCIActive
	case NotRecording:
		return icons.NotRecording
	}
	return icons.Degraded
}

// Status is everything the tray shows. None of it may hold card data; Redact is applied
// anyway.
type Status struct {
	State           State
	Since           time.Time // when State began; zero shows no time
	LastPauseReason string    // e.g. PCI_DATA_DETECTED; empty: none since start
	Detail          string    // one line on why, e.g. "service unreachable"
	Version         string    // the helper's version
}

// ErrAlreadyRunning is returned by Run when a tray already ran in this process: the native
// tray libraries keep process-wide state and can run their loop only once.
var ErrAlreadyRunning = errors.New("tray: already ran in this process")

// ran guards the process-wide native loop (see ErrAlreadyRunning). It holds no window state.
var ran atomic.Bool

// Tray is the notification-area icon. Create it with New, run it with Run, update it with Set.
type Tray struct {
	log         *slog.Logger
	diagnostics func() string

	mu     sync.Mutex
	status Status
	wake   chan struct{} // buffered 1: Set coalesces updates for the loop

	// applied, when set (tests), is called by the loop after a status reached the native tray.
	applied func(Status)
}

// New returns a tray that shows Degraded ("starting") until the first Set. diagnostics, which
// may be nil, supplies the body of "Copy diagnostics"; it must not return secrets or card
// data (the text is redacted all the same).
func New(log *slog.Logger, diagnostics func() string) *Tray {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tray{
		log:         log.With("component", "tray"),
		diagnostics: diagnostics,
		status:      Status{State: Degraded, Since: time.Now(), Detail: "starting: not yet connected to the service"},
		wake:        make(chan struct{}, 1),
	}
}

// Set shows s. It is safe from any goroutine, never blocks and does no I/O: the tray's loop
// picks the latest status up.
func (t *Tray) Set(s Status) {
	t.mu.Lock()
	t.status = s
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Status returns the status last passed to Set (or the initial one).
func (t *Tray) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Run owns the native tray loop until ctx is cancelled, then removes the icon and returns
// nil. Unless started is nil it receives exactly one value — nil once the loop starts, or the
// error Run is about to return — so give it a buffer of one or read it. Run returns an error only when the tray cannot run in
// this process at all (a second Run, an unsupported OS); a missing session bus or tray host is
// logged once and Run waits for ctx without an icon, so callers can treat any error as
// non-fatal to masking.
func (t *Tray) Run(ctx context.Context, started chan<- error) error {
	report := func(err error) {
		if started != nil {
			started <- err
		}
	}
	if !ran.CompareAndSwap(false, true) {
		report(ErrAlreadyRunning)
		return ErrAlreadyRunning
	}
	// The loop's window (Windows) and its message queue belong to one OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err := t.run(ctx, report)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// view is what the native tray is told: the rendered texts and icon.
type view struct {
	icon      icons.Icon
	tooltip   string
	stateLine string
	pauseLine string
	detail    string // empty hides the line
	version   string
}

const (
	maxLine    = 120 // runes per menu line
	maxTooltip = 120 // Windows caps tooltips at 127 UTF-16 units
)

// render turns a status into the texts the tray shows. now decides whether Since needs a date.
func render(s Status, now time.Time) view {
	st := s.State
	detail := clean(s.Detail, maxLine)
	if !st.valid() {
		if detail == "" {
			detail = fmt.Sprintf("unknown state %d", int(st))
		}
		st = Degraded
	}
	v := view{icon: st.icon(), detail: detail}

	v.stateLine = st.String()
	if since := sinceText(s.Since, now); since != "" {
		v.stateLine += " since " + since
	}
	v.stateLine = clean(v.stateLine, maxLine)

	reason := clean(s.LastPauseReason, maxLine)
	if reason == "" {
		reason = "none"
	}
	v.pauseLine = clean("Last pause: "+reason, maxLine)

	ver := clean(s.Version, 40)
	if ver == "" {
		ver = "unknown"
	}
	v.version = "Version " + ver

	tip := "pcipause: " + v.stateLine
	if detail != "" {
		tip += "\n" + detail
	}
	v.tooltip = truncate(tip, maxTooltip)
	return v
}

// sinceText is "15:04" for today, "Jan 2 15:04" before that, in local time.
func sinceText(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.Local(), now.Local()
	y, m, d := t.Date()
	ny, nm, nd := now.Date()
	if y == ny && m == nm && d == nd {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04")
}

// clean makes s safe for one menu line: digits redacted, control characters and newlines
// turned into spaces, trimmed and cut to max runes.
func clean(s string, max int) string {
	s = Redact(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), max)
}

func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// Redacted replaces a digit run Redact removed.
const Redacted = "[digits removed]"

// Redact replaces every run of 13 or more digits — single spaces or dashes allowed between
// them, as card numbers are typed — with Redacted. Shorter runs (times, versions, pids) stay.
func Redact(s string) string {
	if !hasLongDigitRun(s) {
		return s
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		end, n := digitRun(s, i)
		if n >= 13 {
			b.WriteString(Redacted)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRun scans the run starting at the digit s[i]; it returns the end of the run (after its
// last digit) and the number of digits in it.
func digitRun(s string, i int) (end, n int) {
	end = i
	for j := i; j < len(s); {
		if isDigit(s[j]) {
			n++
			j++
			end = j
			continue
		}
		if (s[j] == ' ' || s[j] == '-') && j+1 < len(s) && isDigit(s[j+1]) {
			j++
			continue
		}
		break
	}
	return end, n
}

func hasLongDigitRun(s string) bool {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		end, n := digitRun(s, i)
		if n >= 13 {
			return true
		}
		i = end
	}
	return false
}

// diagnosticsText is the "Copy diagnostics" text: the tray's own status, then the caller's
// diagnostics, redacted and capped at 64 KiB.
func (t *Tray) diagnosticsText(now time.Time, extra map[string]string) string {
	s := t.Status()
	v := render(s, now)
	var b strings.Builder
	fmt.Fprintf(&b, "pcipause session helper diagnostics\n")
	fmt.Fprintf(&b, "generated: %s\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "os: %s/%s\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "tray state: %s\n", v.stateLine)
	if !s.Since.IsZero() {
		fmt.Fprintf(&b, "state since: %s\n", s.Since.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "%s\n", v.pauseLine)
	if v.detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", v.detail)
	}
	fmt.Fprintf(&b, "%s\n", v.version)
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		fmt.Fprintf(&b, "%s: %s\n", k, extra[k])
	}
	if t.diagnostics != nil {
		body, err := callDiagnostics(t.diagnostics)
		if err != nil {
			// The panic value is the caller's text: redact it before it reaches the log.
			msg := Redact(err.Error())
			t.log.Error("diagnostics callback failed", "err", msg)
			body = "diagnostics unavailable: " + msg
		}
		b.WriteString("\n")
		b.WriteString(body)
		if !strings.HasSuffix(body, "\n") {
			b.WriteString("\n")
		}
	}
	out := Redact(b.String())
	const max = 64 << 10
	if len(out) > max {
		out = strings.ToValidUTF8(out[:max], "") + "\n[truncated]\n"
	}
	return out
}

// callDiagnostics runs the caller's callback; a panic in it becomes an error rather than
// taking the helper (and its masking) down from a menu click.
func callDiagnostics(f func() string) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("diagnostics callback panicked: %v", r)
		}
	}()
	return f(), nil
}
