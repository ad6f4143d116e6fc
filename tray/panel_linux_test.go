package tray

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// panelConfig is one xfce4-panel on top of the screen: a spacer, then the status tray, whose
// icons sit at the right end.
const panelConfig = `<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="28"/>
      <property name="plugin-ids" type="array"><value type="int" value="1"/><value type="int" value="2"/></property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="icon-size" type="int" value="22"/>
      <property name="square-icons" type="bool" value="true"/>
    </property>
  </property>
</channel>
`

// TestTrayInRealPanel shows the tray in a real StatusNotifierItem host — xfce4-panel's status
// tray on Xvfb — and reads the screen: each state's colours appear in the panel, so a real
// host decodes the IconPixmap the way the other tests assume (byte order, alpha).
func TestTrayInRealPanel(t *testing.T) {
	panel, err := exec.LookPath("xfce4-panel")
	if err != nil {
		skipUnlessCI(t, "xfce4-panel not installed (Debian package xfce4-panel): no real tray host")
	}
	cfg := t.TempDir()
	dir := filepath.Join(cfg, "xfce4", "xfconf", "xfce-perchannel-xml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xfce4-panel.xml"), []byte(panelConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	display := startXvfb(t)
	env := []string{"DISPLAY=" + display, "XDG_CONFIG_HOME=" + cfg, "NO_AT_BRIDGE=1"}
	addr := startBus(t, env...)
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	cmd := exec.Command(panel, "--disable-wm-check")
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start xfce4-panel: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); <-exited })

	conn := connect(t, addr)
	waitFor(t, "xfce4-panel to own org.kde.StatusNotifierWatcher", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has)
		return has
	})

	h := startHelper(t, append(env, "TZ=UTC")...)
	x, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	// Pixel classes, on the panel's light background.
	red := func(r, g, b uint8) bool { return r > 180 && g < 60 && b < 60 }
	nearBlack := func(r, g, b uint8) bool { return r < 40 && g < 40 && b < 40 }
	amber := func(r, g, b uint8) bool { return r > 220 && g > 130 && g < 190 && b < 40 }
	grey := func(r, g, b uint8) bool {
		return r > 95 && r < 145 && max(r, g, b)-min(r, g, b) < 8
	}
	type class = func(r, g, b uint8) bool
	tests := []struct {
		name    string
		state   State
		want    class
		notWant []class
	}{
		{"recording shows the red dot", Recording, red, []class{nearBlack, amber}},
		{"pci active shows the black shield", PCIActive, nearBlack, []class{red, amber}},
		{"degraded shows the amber triangle", Degraded, amber, []class{red}}, // its "!" is black
		{"not recording shows the grey sign", NotRecording, grey, []class{red, amber, nearBlack}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.set(Status{State: tt.state, Since: time.Now(), Version: "1.0.0"})
			var last string
			ok := poll(func() bool {
				pix, w, hgt := grabTopRight(t, x, 40, 28)
				count := func(c class) int {
					n := 0
					for i := 0; i < w*hgt; i++ {
						// GetImage on a 24-bit TrueColor screen: B, G, R, pad per pixel.
						if c(pix[4*i+2], pix[4*i+1], pix[4*i]) {
							n++
						}
					}
					return n
				}
				n := count(tt.want)
				last = fmt.Sprintf("%d wanted pixels", n)
				if n < 20 {
					return false
				}
				for k, c := range tt.notWant {
					if m := count(c); m > 3 {
						last += fmt.Sprintf(", %d of excluded class %d", m, k)
						return false
					}
				}
				return true
			})
			if !ok {
				t.Fatalf("the panel never showed the %v icon (%s)", tt.state, last)
			}
		})
	}
	h.quit()
}

// grabTopRight reads the w×h pixels at the screen's top-right corner, where the panel's
// status tray puts the icon.
func grabTopRight(t *testing.T, x *xgb.Conn, w, h int) ([]byte, int, int) {
	t.Helper()
	screen := xproto.Setup(x).DefaultScreen(x)
	img, err := xproto.GetImage(x, xproto.ImageFormatZPixmap, xproto.Drawable(screen.Root),
		int16(int(screen.WidthInPixels)-w), 0, uint16(w), uint16(h), 0xffffffff).Reply()
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if len(img.Data) < w*h*4 {
		t.Fatalf("GetImage returned %d bytes for %dx%d", len(img.Data), w, h)
	}
	return img.Data, w, h
}

// poll retries cond until it holds or deadline passes (a hang guard, not a timing assertion).
func poll(cond func() bool) bool {
	stop := time.Now().Add(deadline)
	for time.Now().Before(stop) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
