package xenv

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Recorder is a running ffmpeg x11grab capture: lossless FFV1 in Matroska at a fixed frame
// rate, with -copyts so each frame's timestamp is the capture's wall-clock time (ms).
type Recorder struct {
	cmd    *exec.Cmd
	Region image.Rectangle // what is captured, in screen coordinates
	stderr bytes.Buffer

	once sync.Once
	err  error
	done chan struct{}
}

// firstWrite signals once the first byte reaches out: ffmpeg writes the container header only
// after the first frame is encoded, so the capture is running by then.
type firstWrite struct {
	w    io.Writer
	once sync.Once
	c    chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.c) })
	return f.w.Write(p)
}

// Record starts capturing region (empty means the whole screen) at fps frames per second into
// out, and returns once frames are flowing. Keep recordings that may show card digits in
// memory (a *bytes.Buffer) rather than on disk.
func (e *Env) Record(ctx context.Context, region image.Rectangle, fps int, out io.Writer) (*Recorder, error) {
	if err := Need("ffmpeg"); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if region.Empty() {
		region = image.Rect(0, 0, e.Size.X, e.Size.Y)
	}
	region = region.Intersect(image.Rect(0, 0, e.Size.X, e.Size.Y))
	// Even sizes keep every pixel format happy.
	region.Max.X -= region.Dx() % 2
	region.Max.Y -= region.Dy() % 2
	if region.Empty() {
		return nil, fmt.Errorf("record: region outside the screen")
	}
	if fps <= 0 {
		fps = 30
	}
	r := &Recorder{Region: region, done: make(chan struct{})}
	fw := &firstWrite{w: out, c: make(chan struct{})}
	r.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "x11grab", "-draw_mouse", "0", "-framerate", strconv.Itoa(fps),
		"-video_size", fmt.Sprintf("%dx%d", region.Dx(), region.Dy()),
		"-i", fmt.Sprintf("%s+%d,%d", e.Display, region.Min.X, region.Min.Y),
		"-copyts", "-c:v", "ffv1", "-f", "matroska", "pipe:1")
	r.cmd.Env = e.Environ()
	r.cmd.Stdout = fw
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("record: start ffmpeg: %w", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	select {
	case <-fw.c:
		return r, nil
	case <-r.done:
		return nil, fmt.Errorf("record: ffmpeg exited: %v: %s", r.err, strings.TrimSpace(r.stderr.String()))
	case <-time.After(15 * time.Second):
		r.Stop()
		return nil, fmt.Errorf("record: no frames after 15s")
	case <-ctx.Done():
		r.Stop()
		return nil, ctx.Err()
	}
}

// Stop ends the capture (SIGINT, so ffmpeg finishes the file) and waits for ffmpeg to exit.
func (r *Recorder) Stop() error {
	r.once.Do(func() {
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	if r.err != nil {
		// ffmpeg exits 255 when interrupted although the output is complete.
		if ee, ok := r.err.(*exec.ExitError); ok && ee.ExitCode() == 255 {
			return nil
		}
		return fmt.Errorf("record: ffmpeg: %w: %s", r.err, strings.TrimSpace(r.stderr.String()))
	}
	return nil
}
