//go:build linux || windows

package tray

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/systray"

	"pcipause/tray/icons"
)

// host is the platform side of the native loop: whether a tray can be shown at all, how to
// stop the loop from another goroutine, and facts for the diagnostics.
type host interface {
	// quit makes systray.Run return; safe from any goroutine, before or after Run starts.
	quit()
	// facts describes the host for "Copy diagnostics" (e.g. whether a tray host is present).
	facts() map[string]string
	// shows reports whether the native tray already shows v, read back where possible.
	shows(v view) bool
	// ready is called once systray has created the native tray (from onReady).
	ready()
	// afterLoop runs once systray's loop has returned, to finish what quit could not.
	afterLoop()
	// preload hands systray the first icon, title and tooltip before its loop starts, where
	// the platform needs that (see the Linux host).
	preload(v view)
	// close releases what newHost acquired and waits for its goroutines.
	close()
}

// clipboard takes the diagnostics text.
type clipboard interface {
	// copy places text where the agent can paste it and says where that is.
	copy(text string) (where string, err error)
	// close stops serving the clipboard and waits for its goroutines.
	close()
}

// menu holds the native menu items. Only the copy item is enabled: the others are read-only
// lines, and no item turns masking off or stops the helper.
type menu struct {
	state, pause, detail, version *systray.MenuItem
	copy                          *systray.MenuItem
}

func (t *Tray) run(ctx context.Context, report func(error)) error {
	h, err := newHost(t.log)
	if err != nil {
		// No tray is possible here (e.g. no session bus); the helper keeps masking.
		t.log.Warn("no tray icon: running without one, masking is unaffected", "err", err)
		report(nil)
		<-ctx.Done()
		return nil
	}
	defer h.close()
	clip := newClipboard(t.log)
	defer clip.close()

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var (
		mu      sync.Mutex
		stopped bool // the native loop has returned; a late onReady must not start the loop
		wg      sync.WaitGroup
	)

	stopQuit := context.AfterFunc(ctx, h.quit)
	defer stopQuit()

	// onReady runs on systray's own goroutine once the native tray exists.
	onReady := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		h.ready()
		systray.SetTitle("pcipause")
		m := &menu{
			state:   systray.AddMenuItem("", "Current state"),
			pause:   systray.AddMenuItem("", "Reason of the last recording pause"),
			detail:  systray.AddMenuItem("", "Why the tray shows this state"),
			version: systray.AddMenuItem("", "pcipause session helper version"),
		}
		for _, it := range []*systray.MenuItem{m.state, m.pause, m.detail, m.version} {
			it.Disable()
		}
		systray.AddSeparator()
		m.copy = systray.AddMenuItem("Copy diagnostics",
			"Copy the status (no secrets, no card data) to the clipboard for IT")
		// systray drops a click unless someone is waiting on ClickedCh at that instant; this
		// goroutine does nothing but wait there, so the loop may be busy.
		clicks := make(chan struct{}, 1)
		wg.Go(func() {
			for {
				select {
				case <-loopCtx.Done():
					return
				case <-m.copy.ClickedCh:
					select {
					case clicks <- struct{}{}:
					default: // one pending copy is enough
					}
				}
			}
		})
		wg.Go(func() { t.loop(loopCtx, m, h, clip, clicks) })
	}

	h.preload(render(t.Status(), time.Now()))
	report(nil)
	t.log.Info("tray started")
	err = runNative(onReady)
	mu.Lock()
	stopped = true
	mu.Unlock()
	h.afterLoop()
	stopLoop()
	wg.Wait()
	if err != nil {
		t.log.Error("tray loop failed; running without an icon, masking is unaffected", "err", err)
		<-ctx.Done()
		return nil
	}
	t.log.Info("tray stopped")
	return nil
}

// safeApply runs apply, turning a panic inside systray into an error.
func safeApply(apply func(bool) (Status, view), force bool) (s Status, v view, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("systray panicked: %v", r)
		}
	}()
	s, v = apply(force)
	return s, v, nil
}

// runNative runs systray's loop. A panic inside the third-party loop must not take the
// helper, and with it the masking, down.
func runNative(onReady func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("systray loop panicked: %v", r)
		}
	}()
	systray.Run(onReady, nil)
	return nil
}

// maxVerify bounds how often one status is re-applied before the loop gives up on it.
const maxVerify = 10

// loop applies status updates and handles the copy item until ctx is done.
//
// Each update is read back from the native tray (host.shows) and applied again, with
// backoff, until it is there: fyne.io/systray drops updates made while its start-up is still
// exporting the item, and the helper sets its first real state exactly then.
func (t *Tray) loop(ctx context.Context, m *menu, h host, clip clipboard, clicks <-chan struct{}) {
	var shown icons.Icon
	detailShown := true
	apply := func(force bool) (Status, view) {
		s := t.Status()
		v := render(s, time.Now())
		if v.icon != shown || force {
			if b, err := iconBytes(v.icon); err != nil {
				t.log.Error("tray icon", "err", err)
			} else {
				systray.SetIcon(b)
				shown = v.icon
			}
		}
		systray.SetTooltip(v.tooltip)
		m.state.SetTitle(menuText(v.stateLine))
		m.pause.SetTitle(menuText(v.pauseLine))
		m.detail.SetTitle(menuText(v.detail))
		if show := v.detail != ""; show != detailShown {
			if show {
				m.detail.Show()
			} else {
				m.detail.Hide()
			}
			detailShown = show
		}
		m.version.SetTitle(menuText(v.version))
		return s, v
	}

	var (
		retry    <-chan time.Time
		tries    int
		panicked bool
	)
	settle := func(force bool) {
		s, v, err := safeApply(apply, force)
		if err != nil {
			// fyne.io/systray panics when its bus connection has gone (prop.SetMust); the
			// helper, and its masking, must outlive that.
			if !panicked {
				t.log.Error("tray update failed; the icon may be stale", "err", err)
				panicked = true
			}
			return
		}
		if h.shows(v) {
			retry, tries = nil, 0
			if t.applied != nil {
				t.applied(s)
			}
			return
		}
		tries++
		if tries >= maxVerify {
			t.log.Warn("the tray may show an old state: the update did not reach the tray host", "state", s.State.String())
			retry, tries = nil, 0
			return
		}
		retry = time.After(min(25*time.Millisecond<<tries, 2*time.Second))
	}

	settle(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
			tries = 0
			settle(false)
		case <-retry:
			settle(true)
		case <-clicks:
			text := t.diagnosticsText(time.Now(), h.facts())
			where, err := clip.copy(text)
			if err != nil {
				t.log.Error("copy diagnostics failed", "err", err)
				continue
			}
			t.log.Info("diagnostics copied", "to", where, "bytes", len(text))
		}
	}
}
