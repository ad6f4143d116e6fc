package tray

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"pcipause/internal/sessionbus"
)

const watcherName = "org.kde.StatusNotifierWatcher"

// sniHost is the D-Bus session bus side: fyne.io/systray exports a StatusNotifierItem and
// registers it with the StatusNotifierWatcher, which the desktop's tray host owns. This only
// watches that name, to log once when no host is there and once each time one comes or goes.
type sniHost struct {
	log     *slog.Logger
	conn    *dbus.Conn
	present atomic.Bool
	sig     chan *dbus.Signal
	done    chan struct{}
	wg      sync.WaitGroup
}

// newHost fails only when there is no session bus at all; a bus without a tray host is fine.
func newHost(log *slog.Logger) (host, error) {
	// Never autolaunch a bus (it would outlive the helper); without one there is no tray host.
	if _, err := sessionbus.Address(); err != nil {
		return nil, err
	}
	// systray uses the same shared connection and closes it when its loop ends.
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the D-Bus session bus: %w", err)
	}
	h := &sniHost{log: log, conn: conn, sig: make(chan *dbus.Signal, 8), done: make(chan struct{})}

	// Watch before asking, so a host that starts in between is not missed. systray adds the
	// same match; its handler also sees these signals, which carry the three arguments it
	// expects.
	if err := conn.AddMatchSignal(
		dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, watcherName),
	); err != nil {
		log.Warn("cannot watch for a tray host; its arrival will not be logged", "err", err)
	} else {
		conn.Signal(h.sig)
		h.wg.Go(h.watch)
	}

	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has); err != nil {
		log.Warn("cannot ask the session bus for a tray host", "err", err)
	}
	h.present.Store(has)
	if !has {
		log.Warn("no tray host on this desktop (no " + watcherName + "); the icon appears when one starts, masking is unaffected")
	}
	return h, nil
}

func (h *sniHost) watch() {
	for {
		select {
		case <-h.done:
			return
		case s, ok := <-h.sig:
			if !ok {
				return // connection closed
			}
			if s == nil || s.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(s.Body) < 3 {
				continue
			}
			if name, _ := s.Body[0].(string); name != watcherName {
				continue
			}
			owner, _ := s.Body[2].(string)
			now := owner != ""
			if h.present.Swap(now) == now {
				continue
			}
			if now {
				h.log.Info("tray host appeared; registering the icon with it")
				h.register()
			} else {
				h.log.Warn("tray host went away; the icon is hidden until one returns, masking is unaffected")
			}
		}
	}
}

// register announces the item to a watcher that just appeared. systray does the same, but
// only once it has subscribed to the name's changes, which it does after its first attempt:
// a host starting in between (a panel coming up with the session) would never learn of the
// icon. A second registration of the same item is harmless.
func (h *sniHost) register() {
	call := h.conn.Object(watcherName, "/StatusNotifierWatcher").
		Call(watcherName+".RegisterStatusNotifierItem", 0, "/StatusNotifierItem")
	if call.Err != nil {
		h.log.Warn("register the icon with the tray host", "err", call.Err)
	}
}

// preload stores the first icon, title and tooltip in systray before its loop starts. Its
// start-up exports the item's properties from what is stored, then takes a while before
// it forwards changes: a SetIcon in between would be kept but never shown (the icon stayed
// blank under xfce4-panel). Preloading makes the first export right; the loop's own first
// update then repeats the same values.
func (h *sniHost) preload(v view) {
	systray.SetTitle("pcipause")
	if b, err := iconBytes(v.icon); err == nil {
		systray.SetIcon(b)
	}
	systray.SetTooltip(v.tooltip)
}

// quit ends systray's loop; on Linux that only closes a channel, safe at any time.
func (h *sniHost) quit() { systray.Quit() }

// shows reads the item's ToolTip and IconPixmap back over the bus, as a tray host would.
func (h *sniHost) shows(v view) bool {
	names := h.conn.Names()
	if len(names) == 0 {
		return false
	}
	obj := h.conn.Object(names[0], "/StatusNotifierItem")
	var tip struct {
		Icon    string
		Pixmaps []struct {
			W, H int32
			Pix  []byte
		}
		Title, Body string
	}
	if p, err := obj.GetProperty("org.kde.StatusNotifierItem.ToolTip"); err != nil || p.Store(&tip) != nil || tip.Title != v.tooltip {
		return false
	}
	var px []struct {
		W, H int32
		Pix  []byte
	}
	p, err := obj.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
	if err != nil || p.Store(&px) != nil || len(px) != 1 {
		return false
	}
	want, err := iconBytes(v.icon)
	if err != nil {
		return true // nothing better to show; the error is logged where the icon is set
	}
	return bytes.Equal(px[0].Pix, want[len(argbMagic)+4:])
}

func (h *sniHost) ready()     {}
func (h *sniHost) afterLoop() {}

func (h *sniHost) facts() map[string]string {
	p := "absent"
	if h.present.Load() {
		p = "present"
	}
	return map[string]string{"tray host (" + watcherName + ")": p}
}

func (h *sniHost) close() {
	h.conn.RemoveSignal(h.sig)
	close(h.done)
	h.wg.Wait()
}

// menuText escapes a menu label for dbusmenu, where "_" marks the access key: the reason
// PCI_DATA_DETECTED would otherwise show as PCIDATADETECTED.
func menuText(s string) string { return strings.ReplaceAll(s, "_", "__") }
