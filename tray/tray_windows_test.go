package tray_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/tray"
	"pcipause/tray/icons"
)

// These run on Windows, or under Wine (make test-tray-wine), and exercise the code nobody
// else runs on Linux: systray's Win32 loop started and stopped through a context, the ICO
// files read by LoadImage at every size, and the clipboard.

const deadline = 30 * time.Second

// TestWinTrayLifecycle runs the real notification-area loop: every state reaches the native
// tray and cancelling the context ends the message loop.
func TestWinTrayLifecycle(t *testing.T) {
	tr := tray.New(slog.New(slog.NewTextHandler(os.Stderr, nil)), func() string { return "wine test" })
	applied := make(chan tray.Status, 64)
	tr.OnApplied(func(s tray.Status) { applied <- s })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, started) }()
	if err := <-started; err != nil {
		t.Fatalf("started: %v", err)
	}
	wait := func(want tray.Status) {
		t.Helper()
		timeout := time.After(deadline)
		for {
			select {
			case s := <-applied:
				if s == want {
					return
				}
			case <-timeout:
				t.Fatalf("status %+v never reached the tray", want)
			}
		}
	}
	wait(tr.Status()) // the initial Degraded "starting"
	since := time.Now()
	for _, s := range []tray.Status{
		{State: tray.Recording, Since: since, Version: "1.0.0"},
		{State: tray.PCIActive, Since: since, LastPauseReason: "PCI_DATA_DETECTED", Detail: "field A&B", Version: "1.0.0"},
		{State: tray.Degraded, Since: since, Detail: "service unreachable", Version: "1.0.0"},
		{State: tray.NotRecording, Since: since, Version: "1.0.0"},
	} {
		tr.Set(s)
		wait(s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return after cancel")
	}
	if err := tr.Run(context.Background(), nil); !errors.Is(err, tray.ErrAlreadyRunning) {
		t.Fatalf("second Run: %v, want ErrAlreadyRunning", err)
	}
}

// TestWinICOLoads: LoadImage accepts each ICO and picks the image drawn for each size.
func TestWinICOLoads(t *testing.T) {
	const imageIcon, lrLoadFromFile = 1, 0x10
	// Not t.TempDir: Wine keeps the loaded .ico files open, and the failed clean-up would fail
	// the test.
	dir, err := os.MkdirTemp("", "pcipause-tray-ico")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, ic := range icons.All {
		b, err := icons.ICO(ic)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, ic.Name()+".ico")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p, _ := windows.UTF16PtrFromString(path)
		for _, size := range icons.Sizes {
			h, err := loadImage(0, p, imageIcon, int32(size), int32(size), lrLoadFromFile)
			if err != nil {
				t.Fatalf("%s %dpx: LoadImage: %v", ic.Name(), size, err)
			}
			var info iconInfo
			if err := getIconInfo(h, &info); err != nil {
				t.Fatalf("%s %dpx: GetIconInfo: %v", ic.Name(), size, err)
			}
			var bm bitmap
			if info.hbmColor == 0 || getObject(info.hbmColor, int32(unsafe.Sizeof(bm)), &bm) == 0 {
				t.Fatalf("%s %dpx: no colour bitmap", ic.Name(), size)
			}
			if bm.bmWidth != int32(size) || bm.bmHeight != int32(size) {
				t.Errorf("%s: asked %dpx, got %dx%d", ic.Name(), size, bm.bmWidth, bm.bmHeight)
			}
			// The pixels are the ones drawn for this size, not another size scaled.
			want, err := icons.Draw(ic, size)
			if err != nil {
				t.Fatal(err)
			}
			got := iconPixels(t, info.hbmColor, size)
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					c := want.NRGBAAt(x, y)
					o := (y*size + x) * 4
					if got[o] != c.B || got[o+1] != c.G || got[o+2] != c.R || got[o+3] != c.A {
						t.Fatalf("%s %dpx: pixel %d,%d is BGRA %v, want %v", ic.Name(), size, x, y, got[o:o+4], c)
					}
				}
			}
			deleteObject(info.hbmColor)
			deleteObject(info.hbmMask)
			destroyIcon(h)
		}
	}
}

// TestWinClipboard: the diagnostics text lands on the clipboard as CF_UNICODETEXT, intact.
func TestWinClipboard(t *testing.T) {
	tests := []string{
		"pcipause session helper diagnostics\r\ntray state: Recording\r\n",
		"non-ASCII: Card data hidden · recording paused — ✓",
		strings.Repeat("long line ", 6000),
	}
	for _, text := range tests {
		if err := tray.SetClipboardText(text); err != nil {
			t.Fatalf("set: %v", err)
		}
		if got := readClipboard(t); got != text {
			t.Errorf("clipboard holds %d chars %.40q…, want %d chars %.40q…", len(got), got, len(text), text)
		}
	}
}

func readClipboard(t *testing.T) string {
	t.Helper()
	const cfUnicodeText = 13
	if err := openClipboard(0); err != nil {
		t.Fatalf("open clipboard: %v", err)
	}
	defer closeClipboard()
	h, err := getClipboardData(cfUnicodeText)
	if err != nil {
		t.Fatalf("get clipboard data: %v", err)
	}
	size, err := globalSize(h)
	if err != nil {
		t.Fatalf("global size: %v", err)
	}
	p, err := globalLock(h)
	if err != nil {
		t.Fatalf("global lock: %v", err)
	}
	defer globalUnlock(h)
	buf := make([]uint16, size/2)
	if len(buf) > 0 {
		moveMemory(&buf[0], p, size)
	}
	return windows.UTF16ToString(buf)
}

// iconPixels reads a 32-bit colour bitmap top-down as BGRA.
func iconPixels(t *testing.T, bm windows.Handle, size int) []byte {
	t.Helper()
	dc := getDC(0)
	defer releaseDC(0, dc)
	hdr := bitmapInfoHeader{biWidth: int32(size), biHeight: -int32(size), biPlanes: 1, biBitCount: 32}
	hdr.biSize = 40
	buf := make([]byte, size*size*4)
	if n := getDIBits(dc, bm, 0, uint32(size), &buf[0], &hdr, 0); n != int32(size) {
		t.Fatalf("GetDIBits read %d lines, want %d", n, size)
	}
	return buf
}

// TestWinRunCancelledBeforeStart: shutting down before the tray started must neither hang
// nor panic (systray.Quit before systray registered would call a nil callback). It runs in a
// child process because the tray loop runs once per process.
func TestWinRunCancelledBeforeStart(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PCIPAUSE_TRAY_TEST_HELPER=1", "PCIPAUSE_TRAY_TEST_HELPER_CANCELLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	// The loop may have applied the first status before it saw the cancel.
	if got := tray.DropApplied(strings.ReplaceAll(string(out), "\r\n", "\n")); got != "returned <nil>\nleaked 0\n" {
		t.Fatalf("helper said %q", got)
	}
}
