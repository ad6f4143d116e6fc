package xenv

import (
	"bufio"
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

// steadyFrames is how many frames ffmpeg must have encoded before Record returns. x11grab
// takes two frames and then stalls for about half a second while the pipeline starts: a key
// typed in that stall would never be filmed, and the film would prove nothing about it.
const steadyFrames = 4

// watchProgress reads ffmpeg's -progress output until it ends, and closes ready once the
// frame count reaches steadyFrames. It keeps reading after that: ffmpeg blocks on a full pipe.
func watchProgress(r io.ReadCloser, ready chan<- struct{}) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	closed := false
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "frame=")
		if !ok || closed {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= steadyFrames {
			close(ready)
			closed = true
		}
	}
}

// Record starts capturing region (empty means the whole screen) at fps frames per second into
// out, and returns once frames are flowing steadily: past x11grab's start-up stall, as
// ffmpeg's own progress report tells (steadyFrames). Keep recordings that may show card
// digits in memory (a *bytes.Buffer) rather than on disk.
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
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	r.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-progress", "pipe:3", "-stats_period", "0.02",
		"-f", "x11grab", "-draw_mouse", "0", "-framerate", strconv.Itoa(fps),
		"-video_size", fmt.Sprintf("%dx%d", region.Dx(), region.Dy()),
		"-i", fmt.Sprintf("%s+%d,%d", e.Display, region.Min.X, region.Min.Y),
		"-copyts", "-c:v", "ffv1", "-f", "matroska", "pipe:1")
	r.cmd.Env = e.Environ()
	r.cmd.Stdout = out
	r.cmd.Stderr = &r.stderr
	r.cmd.ExtraFiles = []*os.File{pw}
	if err := r.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("record: start ffmpeg: %w", err)
	}
	pw.Close()
	ready := make(chan struct{})
	go watchProgress(pr, ready)
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	select {
	case <-ready:
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
