//go:build windows

package overlay

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"pcipause/daemon/winsys"
)

// These tests need a desktop: real Windows, or Wine on an X display (make test-windows).

func newTestOverlay(t *testing.T, opts Options) Overlay {
	t.Helper()
	o, err := New(context.Background(), opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestShowCheckHide(t *testing.T) {
	tests := []struct {
		name  string
		r     image.Rectangle
		label string
	}{
		{"plain", image.Rect(100, 100, 400, 140), ""},
		{"labelled", image.Rect(50, 300, 650, 350), "Hidden from recording · 16 digits · checksum OK"},
		{"tiny", image.Rect(10, 10, 16, 14), "x"},
	}
	o := newTestOverlay(t, Options{})
	if err := o.Check(); !errors.Is(err, ErrNotShown) {
		t.Fatalf("Check before any Show = %v, want ErrNotShown", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := o.Show(tt.r, tt.label); err != nil {
				t.Fatalf("Show: %v", err)
			}
			if err := o.Check(); err != nil {
				t.Fatalf("Check after Show: %v", err)
			}
			moved := tt.r.Add(image.Pt(20, 30))
			if err := o.Move(moved); err != nil {
				t.Fatalf("Move: %v", err)
			}
			if err := o.Check(); err != nil {
				t.Fatalf("Check after Move: %v", err)
			}
			if err := o.Hide(); err != nil {
				t.Fatalf("Hide: %v", err)
			}
			if err := o.Check(); err == nil {
				t.Fatal("Check after Hide succeeded, want an error")
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	o := newTestOverlay(t, Options{})
	for _, r := range []image.Rectangle{{}, image.Rect(5, 5, 5, 50)} {
		if err := o.Show(r, "x"); err == nil {
			t.Errorf("Show(%v) succeeded, want an error", r)
		}
		if err := o.Move(r); err == nil {
			t.Errorf("Move(%v) succeeded, want an error", r)
		}
	}
}

// TestCheckSeesCover proves Check can fail: a window of this process (which the mask does not
// re-raise against) placed over the mask must make the readback fail.
func TestCheckSeesCover(t *testing.T) {
	o := newTestOverlay(t, Options{})
	r := image.Rect(200, 200, 500, 260)
	if err := o.Show(r, "covered?"); err != nil {
		t.Fatalf("Show: %v", err)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	stop := coverWith(t, r)
	if err := o.Check(); err == nil {
		t.Fatal("Check succeeded with a white window over the mask")
	}
	stop()
	if err := o.Show(r, "covered?"); err != nil {
		t.Fatalf("Show again: %v", err)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check after re-show: %v", err)
	}
}

// coverWith shows a white topmost window over r on its own thread until the returned func runs.
func coverWith(t *testing.T, r image.Rectangle) (stop func()) {
	t.Helper()
	ready := make(chan windows.HWND)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(done)
		inst, _ := winsys.GetModuleHandle(nil)
		cls, _ := windows.UTF16PtrFromString("pcipause.test.cover")
		wc := winsys.WNDCLASSEX{
			WndProc: windows.NewCallback(func(h windows.HWND, m uint32, w, l uintptr) uintptr {
				if m == winsys.WM_DESTROY {
					winsys.PostQuitMessage(0)
					return 0
				}
				return winsys.DefWindowProc(h, m, w, l)
			}),
			Instance:   inst,
			Background: winsys.CreateSolidBrush(0xFFFFFF),
			ClassName:  cls,
		}
		wc.Size = uint32(unsafe.Sizeof(wc))
		_, _ = winsys.RegisterClassEx(&wc)
		h, err := winsys.CreateWindowEx(winsys.WS_EX_TOPMOST|winsys.WS_EX_TOOLWINDOW|winsys.WS_EX_NOACTIVATE,
			cls, cls, winsys.WS_POPUP|winsys.WS_VISIBLE, int32(r.Min.X), int32(r.Min.Y), int32(r.Dx()), int32(r.Dy()), 0, 0, inst, 0)
		if err != nil {
			t.Errorf("create cover window: %v", err)
			ready <- 0
			return
		}
		_ = winsys.SetWindowPos(h, winsys.HWND_TOPMOST, 0, 0, 0, 0, winsys.SWP_NOMOVE|winsys.SWP_NOSIZE|winsys.SWP_NOACTIVATE)
		_ = winsys.UpdateWindow(h)
		ready <- h
		var m winsys.MSG
		for {
			if r, _ := winsys.GetMessage(&m, 0, 0, 0); r <= 0 {
				return
			}
			winsys.DispatchMessage(&m)
		}
	}()
	h := <-ready
	if h == 0 {
		<-done
		t.FailNow()
	}
	// A round trip through the cover's thread makes sure it has painted.
	winsys.SendMessage(h, winsys.WM_NULL, 0, 0)
	return func() {
		winsys.SendMessage(h, winsys.WM_CLOSE, 0, 0)
		<-done
	}
}

func TestConcurrentAndClose(t *testing.T) {
	o := newTestOverlay(t, Options{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 20 {
				r := image.Rect(10*i, 10*j, 10*i+200, 10*j+40)
				if err := o.Show(r, "busy"); err != nil {
					t.Errorf("Show: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := o.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := o.Show(image.Rect(0, 0, 10, 10), ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Show after Close = %v, want ErrClosed", err)
	}
}

func TestContextCancelCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o, err := New(ctx, Options{}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cancel()
	// Close waits for the overlay's thread; after the cancel it must already be closing.
	_ = o.Close()
	if err := o.Hide(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Hide after cancel = %v, want ErrClosed", err)
	}
}

func TestSeeThroughFallsBackOrHolds(t *testing.T) {
	o := newTestOverlay(t, Options{SeeThrough: true})
	if err := o.Show(image.Rect(100, 500, 300, 540), "see-through"); err != nil {
		t.Fatalf("Show: %v", err)
	}
	if err := o.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

// BenchmarkShowHide measures the mask's cost on the key path: a Show from another thread
// (as the keyboard hook does) until the window is positioned, raised and painted.
func BenchmarkShowHide(b *testing.B) {
	o, err := New(context.Background(), Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	r := image.Rect(100, 100, 500, 140)
	for b.Loop() {
		if err := o.Show(r, "Hidden from recording · 7 digits"); err != nil {
			b.Fatal(err)
		}
		if err := o.Hide(); err != nil {
			b.Fatal(err)
		}
	}
}
