//go:build linux

package server

import (
	"os"
	"testing"

	"pcipause/daemon/config"
	"pcipause/daemon/prio"
)

// TestHelperPriority: a helper connecting from the installed helper executable gets the nice
// value of [overlay] helper_nice; any other program that says hello is left alone. The test
// process plays the helper, so it is its own nice value that is checked (and put back).
func TestHelperPriority(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raising a process's priority needs CAP_SYS_NICE (run as root)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		exe      string
		nice     int
		wantNice int
	}{
		{"installed helper is raised", self, -3, -3},
		{"another executable is left alone", "/bin/sh", -3, 0},
		{"helper_nice 0 leaves it alone", self, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() {
				if err := prio.Raise(os.Getpid(), 0); err != nil {
					t.Errorf("put the test's priority back: %v", err)
				}
			})
			r := newRigTB(t, func(c *config.Config) { c.Overlay.HelperNice = tt.nice },
				func(o *Options) { o.HelperExe = tt.exe })
			h := r.connectHelper()
			defer h.close()
			r.waitFor("welcome", func() bool { _, ok := h.welcome(); return ok })
			got, err := prio.Nice(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantNice {
				t.Errorf("helper's nice = %d, want %d", got, tt.wantNice)
			}
		})
	}
}
