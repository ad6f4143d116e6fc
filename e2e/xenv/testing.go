package xenv

import (
	"context"
	"errors"
	"testing"
)

// TestDisplays is the range of display numbers ForTest tries when Options gives none.
// `go test ./...` runs packages in parallel: a package other than e2e and e2e/xenv sets its
// own range in an init function (overlay: :85-:89), so no two packages share a number.
var TestDisplays = [2]int{75, 84}

// ForTest starts a private X session for a test and stops it in t.Cleanup. It skips the test
// only when a program the session needs (Xvfb, openbox, or any in extra) is not installed.
func ForTest(t testing.TB, opts Options, extra ...string) *Env {
	t.Helper()
	progs := append([]string{"Xvfb", "xdotool"}, extra...)
	if !opts.NoWM {
		progs = append(progs, "openbox")
	}
	if err := Need(progs...); err != nil {
		if errors.Is(err, ErrMissing) {
			t.Skipf("skipping: %v", err)
		}
	}
	if opts.First == 0 && opts.Last == 0 {
		opts.First, opts.Last = TestDisplays[0], TestDisplays[1]
	}
	e, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start X session: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
