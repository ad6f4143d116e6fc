package tray

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pcipause/tray/icons"
)

// The only card numbers tests may use.
var testPANs = []string{"4111111111111111", "5500005555555559", "340000000000009", "6011000990139424"}

// spaced writes a PAN the way agents type it: groups of four.
func spaced(pan, sep string) string {
	var parts []string
	for i := 0; i < len(pan); i += 4 {
		parts = append(parts, pan[i:min(i+4, len(pan))])
	}
	return strings.Join(parts, sep)
}

func assertNoPAN(t *testing.T, where, s string) {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	for _, p := range testPANs {
		if strings.Contains(s, p) || strings.Contains(digits, p) {
			t.Errorf("%s holds card number %s…: %q", where, p[:6], s)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"no digits", "no digits"},
		{"pid 4194304 at 20:19:20", "pid 4194304 at 20:19:20"},
		{"2026-11-25T20:19:20Z", "2026-11-25T20:19:20Z"},
		{"version 1.12.2-rc3", "version 1.12.2-rc3"},
		{"twelve 123456789012 ok", "twelve 123456789012 ok"},
		{"card 4111111111111111 typed", "card " + Redacted + " typed"},
		{"card 4111 1111 1111 1111.", "card " + Redacted + "."},
		{"card 5500-0055-5555-5559", "card " + Redacted},
		{"amex 3400 000000 00009", "amex " + Redacted},
		{"6011000990139424", Redacted},
		{"two 4111111111111111 and 340000000000009", "two " + Redacted + " and " + Redacted},
		{"double space keeps runs apart 4111111  111111111", "double space keeps runs apart 4111111  111111111"},
		{"thirteen 1234567890123", "thirteen " + Redacted},
		{"trailing sep 4111111111111111-", "trailing sep " + Redacted + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzRedact: whatever goes in, no 13-digit run comes out, the output is idempotent and
// valid UTF-8 stays valid.
func FuzzRedact(f *testing.F) {
	for _, p := range testPANs {
		f.Add(p)
		f.Add(spaced(p, " "))
		f.Add(spaced(p, "-"))
	}
	f.Add("2026-11-25 20:19:20 pid 1234")
	f.Add("1 2 3 4 5 6 7 8 9 0 1 2 3 4")
	f.Add("héllo ünïcode 1234567890123 ✓")
	f.Fuzz(func(t *testing.T, s string) {
		out := Redact(s)
		if hasLongDigitRun(out) {
			t.Fatalf("Redact(%q) = %q still has a 13-digit run", s, out)
		}
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Redact(%q) broke UTF-8: %q", s, out)
		}
		for _, r := range []string{clean(s, maxLine)} {
			if utf8.RuneCountInString(r) > maxLine || strings.ContainsAny(r, "\n\r\t") {
				t.Fatalf("clean(%q) = %q: too long or multi-line", s, r)
			}
		}
	})
}

func TestRender(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 30, 0, 0, time.Local)
	today := time.Date(2026, 11, 25, 14, 3, 7, 0, time.Local)
	earlier := time.Date(2026, 11, 24, 9, 5, 0, 0, time.Local)
	tests := []struct {
		name                                   string
		in                                     Status
		icon                                   icons.Icon
		state, pause, detail, version, tooltip string
	}{
		{
			name:  "recording today",
			in:    Status{State: Recording, Since: today, Version: "1.2.3"},
			icon:  icons.Recording,
			state: "Recording since 14:03:07", pause: "Last pause: none", version: "Version 1.2.3",
			tooltip: "pcipause: Recording since 14:03:07",
		},
		{
			name:  "pci active with reason",
			in:    Status{State: PCIActive, Since: today, LastPauseReason: "PCI_DATA_DETECTED", Version: "1.2.3"},
			icon:  icons.PCIActive,
			state: "Card data hidden · recording paused since 14:03:07", pause: "Last pause: PCI_DATA_DETECTED",
			version: "Version 1.2.3", tooltip: "pcipause: Card data hidden · recording paused since 14:03:07",
		},
		{
			name:  "degraded since yesterday with detail",
			in:    Status{State: Degraded, Since: earlier, Detail: "service unreachable", LastPauseReason: "MASKING_AGENT_DOWN"},
			icon:  icons.Degraded,
			state: "Degraded since Nov 24 09:05", pause: "Last pause: MASKING_AGENT_DOWN", detail: "service unreachable",
			version: "Version unknown", tooltip: "pcipause: Degraded since Nov 24 09:05\nservice unreachable",
		},
		{
			name:  "not recording without time",
			in:    Status{State: NotRecording, Version: "v2"},
			icon:  icons.NotRecording,
			state: "Not recording", pause: "Last pause: none", version: "Version v2", tooltip: "pcipause: Not recording",
		},
		{
			name:  "zero state shows degraded",
			in:    Status{},
			icon:  icons.Degraded,
			state: "Degraded", pause: "Last pause: none", detail: "unknown state 0", version: "Version unknown",
			tooltip: "pcipause: Degraded\nunknown state 0",
		},
		{
			name:  "out of range state shows degraded with the caller's detail",
			in:    Status{State: 42, Detail: "self-check failed"},
			icon:  icons.Degraded,
			state: "Degraded", pause: "Last pause: none", detail: "self-check failed", version: "Version unknown",
			tooltip: "pcipause: Degraded\nself-check failed",
		},
		{
			name:  "card data in every field is redacted",
			in:    Status{State: PCIActive, LastPauseReason: "PCI 4111111111111111", Detail: "typed 5500 0055 5555 5559", Version: "6011-0009-9013-9424"},
			icon:  icons.PCIActive,
			state: "Card data hidden · recording paused", pause: "Last pause: PCI " + Redacted, detail: "typed " + Redacted,
			version: "Version " + Redacted, tooltip: "pcipause: Card data hidden · recording paused\ntyped " + Redacted,
		},
		{
			name:  "control characters flattened",
			in:    Status{State: Recording, Detail: "line one\nline two\x1b[31m", LastPauseReason: "A\tB"},
			icon:  icons.Recording,
			state: "Recording", pause: "Last pause: A B", detail: "line one line two [31m", version: "Version unknown",
			tooltip: "pcipause: Recording\nline one line two [31m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := render(tt.in, now)
			if v.icon != tt.icon || v.stateLine != tt.state || v.pauseLine != tt.pause || v.detail != tt.detail ||
				v.version != tt.version || v.tooltip != tt.tooltip {
				t.Errorf("render = %+v\nwant icon=%v state=%q pause=%q detail=%q version=%q tooltip=%q",
					v, tt.icon, tt.state, tt.pause, tt.detail, tt.version, tt.tooltip)
			}
			for _, s := range []string{v.stateLine, v.pauseLine, v.detail, v.version, v.tooltip} {
				assertNoPAN(t, "rendered text", s)
			}
		})
	}
}

func TestRenderCapsLength(t *testing.T) {
	long := strings.Repeat("é", 500)
	v := render(Status{State: Degraded, Detail: long, LastPauseReason: long, Version: long}, time.Now())
	for name, s := range map[string]string{"detail": v.detail, "pause": v.pauseLine, "version": v.version} {
		if n := utf8.RuneCountInString(s); n > maxLine {
			t.Errorf("%s has %d runes, cap %d", name, n, maxLine)
		}
		if !strings.HasSuffix(s, "…") {
			t.Errorf("%s not marked as cut: %q", name, s)
		}
	}
	if n := utf8.RuneCountInString(v.tooltip); n > maxTooltip {
		t.Errorf("tooltip has %d runes, cap %d", n, maxTooltip)
	}
}

func TestStateStrings(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range []State{Recording, PCIActive, Degraded, NotRecording} {
		if !s.valid() || seen[s.String()] {
			t.Errorf("state %d: valid=%v label %q repeated", int(s), s.valid(), s.String())
		}
		seen[s.String()] = true
	}
	for _, s := range []State{0, -1, 5} {
		if s.valid() {
			t.Errorf("state %d valid", int(s))
		}
	}
}

// Set is called from the masking path: it must never block, however many updates queue up
// while no loop runs, and the last one wins.
func TestSetNeverBlocksAndLastWins(t *testing.T) {
	tr := New(nil, nil)
	if got := tr.Status(); got.State != Degraded || got.Detail == "" {
		t.Fatalf("initial status %+v, want Degraded with a detail", got)
	}
	for i := 0; i < 10000; i++ {
		tr.Set(Status{State: State(1 + i%4), Detail: "n"})
	}
	tr.Set(Status{State: PCIActive, Detail: "last"})
	if got := tr.Status(); got.State != PCIActive || got.Detail != "last" {
		t.Fatalf("status %+v, want the last Set", got)
	}
	if len(tr.wake) != 1 {
		t.Fatalf("wake holds %d, want 1 coalesced signal", len(tr.wake))
	}
}

func TestDiagnosticsText(t *testing.T) {
	since := time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)
	tests := []struct {
		name        string
		diagnostics func() string
		want        []string
		wantLog     string
	}{
		{
			name:        "caller text appended and redacted",
			diagnostics: func() string { return "service: connected\nlast typed: 4111 1111 1111 1111\n" },
			want:        []string{"service: connected", "last typed: " + Redacted},
		},
		{
			name:        "nil callback",
			diagnostics: nil,
			want:        []string{"Version 9.9.9"},
		},
		{
			name:        "panicking callback reported, helper survives",
			diagnostics: func() string { panic("boom 5500005555555559") },
			want:        []string{"diagnostics unavailable: diagnostics callback panicked: boom " + Redacted},
			wantLog:     "diagnostics callback failed",
		},
		{
			name:        "huge callback capped",
			diagnostics: func() string { return strings.Repeat("x", 1<<20) },
			want:        []string{"[truncated]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tr := New(slog.New(slog.NewTextHandler(&logs, nil)), tt.diagnostics)
			tr.Set(Status{State: PCIActive, Since: since, LastPauseReason: "PCI_DATA_DETECTED", Detail: "field Card number", Version: "9.9.9"})
			got := tr.diagnosticsText(since.Add(time.Hour), map[string]string{"tray host": "present"})
			for _, w := range append([]string{
				"pcipause session helper diagnostics",
				"generated: 2026-11-25T15:03:07Z",
				"tray state: Card data hidden · recording paused since",
				"state since: 2026-11-25T14:03:07Z",
				"Last pause: PCI_DATA_DETECTED",
				"detail: field Card number",
				"tray host: present",
			}, tt.want...) {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
			if len(got) > 64<<10+64 {
				t.Errorf("diagnostics %d bytes, cap 64 KiB", len(got))
			}
			assertNoPAN(t, "diagnostics", got)
			assertNoPAN(t, "log", logs.String())
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q: %s", tt.wantLog, logs.String())
			}
			if !strings.Contains(logs.String(), "component=tray") && logs.Len() > 0 {
				t.Errorf("log lines lack the component attribute: %s", logs.String())
			}
		})
	}
}

// BenchmarkSet is the cost the masking path pays to update the tray.
func BenchmarkSet(b *testing.B) {
	tr := New(nil, nil)
	s := Status{State: PCIActive, Since: time.Now(), LastPauseReason: "PCI_DATA_DETECTED", Version: "1.0.0"}
	b.ReportAllocs()
	for b.Loop() {
		tr.Set(s)
	}
}

// BenchmarkRender is the tray loop's per-update text work (off the masking path).
func BenchmarkRender(b *testing.B) {
	s := Status{State: Degraded, Since: time.Now(), LastPauseReason: "PCI_DATA_DETECTED", Detail: "service unreachable", Version: "1.0.0"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		render(s, now)
	}
}
