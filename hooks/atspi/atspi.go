// Package atspi follows the focused accessible object through AT-SPI over D-Bus and reports
// its role, label and screen extents, so the detector can mask one field instead of a whole
// window and field rules can match by label. It is optional: without an accessibility bus
// the hooks work on whole windows.
package atspi

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"time"

	"github.com/godbus/dbus/v5"

	"pcipause/internal/sessionbus"
)

// Field is the accessible object that gained the focus.
type Field struct {
	PID    int             // process that owns it
	Role   string          // AT-SPI role name, e.g. "text", "password text", "push button"
	Label  string          // its accessible name, or the name of the label that labels it
	Bounds image.Rectangle // screen coordinates; empty if the toolkit did not say
	At     time.Time       // when the focus event arrived
}

const (
	relationLabelledBy = 2 // ATSPI_RELATION_LABELLED_BY
	coordTypeScreen    = 0
	callTimeout        = 500 * time.Millisecond
)

// Client is a connection to the accessibility bus.
type Client struct {
	a11y *dbus.Conn
	log  *slog.Logger
	sig  chan *dbus.Signal
}

// Connect finds the accessibility bus through the session bus (org.a11y.Bus), asks
// toolkits to enable accessibility, and subscribes to focus changes. It fails when there is
// no session bus or no AT-SPI bus launcher.
func Connect(ctx context.Context, log *slog.Logger) (*Client, error) {
	addr0, err := sessionbus.Address()
	if err != nil {
		return nil, fmt.Errorf("atspi: %w", err)
	}
	sess, err := dbus.Connect(addr0, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("atspi: session bus: %w", err)
	}
	defer sess.Close()
	bus := sess.Object("org.a11y.Bus", "/org/a11y/bus")
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var addr string
	if err := bus.CallWithContext(cctx, "org.a11y.Bus.GetAddress", 0).Store(&addr); err != nil {
		return nil, fmt.Errorf("atspi: accessibility bus address: %w", err)
	}
	// Qt and others only talk AT-SPI when this is set; GTK 3 does anyway. It is a runtime
	// flag of the bus launcher, not a saved setting.
	if err := bus.SetProperty("org.a11y.Status.IsEnabled", dbus.MakeVariant(true)); err != nil {
		log.Debug("enable accessibility", "err", err)
	}
	a11y, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("atspi: connect %s: %w", addr, err)
	}
	c := &Client{a11y: a11y, log: log, sig: make(chan *dbus.Signal, 64)}
	a11y.Signal(c.sig)
	if err := a11y.AddMatchSignalContext(cctx, dbus.WithMatchInterface("org.a11y.atspi.Event.Object"),
		dbus.WithMatchMember("StateChanged"), dbus.WithMatchArg(0, "focused")); err != nil {
		a11y.Close()
		return nil, fmt.Errorf("atspi: subscribe: %w", err)
	}
	// Tell the registry, so applications start emitting the event at all.
	reg := a11y.Object("org.a11y.atspi.Registry", "/org/a11y/atspi/registry")
	if err := reg.CallWithContext(cctx, "org.a11y.atspi.Registry.RegisterEvent", 0, "object:state-changed:focused").Err; err != nil {
		a11y.Close()
		return nil, fmt.Errorf("atspi: register focus events: %w", err)
	}
	return c, nil
}

// Close closes the accessibility connection; Run then returns.
func (c *Client) Close() { c.a11y.Close() }

// Run reports each object that gains the focus on out until ctx is done or the bus closes.
func (c *Client) Run(ctx context.Context, out chan<- Field) error {
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-c.sig:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("atspi: accessibility bus closed")
			}
			if !gained(s) {
				continue
			}
			f, err := c.describe(ctx, s.Sender, s.Path)
			if err != nil {
				c.log.Debug("describe focused object", "err", err)
				continue
			}
			select {
			case out <- f:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// gained reports whether s is "object:state-changed:focused" with detail1 = 1.
func gained(s *dbus.Signal) bool {
	if s == nil || s.Name != "org.a11y.atspi.Event.Object.StateChanged" || len(s.Body) < 2 {
		return false
	}
	detail, _ := s.Body[0].(string)
	d1, _ := s.Body[1].(int32)
	return detail == "focused" && d1 == 1
}

func (c *Client) describe(ctx context.Context, sender string, path dbus.ObjectPath) (Field, error) {
	f := Field{At: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	obj := c.a11y.Object(sender, path)
	var pid uint32
	if err := c.a11y.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, sender).Store(&pid); err != nil {
		return f, fmt.Errorf("atspi: pid of %s: %w", sender, err)
	}
	f.PID = int(pid)
	if err := obj.CallWithContext(ctx, "org.a11y.atspi.Accessible.GetRoleName", 0).Store(&f.Role); err != nil {
		return f, fmt.Errorf("atspi: role: %w", err)
	}
	f.Label = c.name(ctx, obj)
	if f.Label == "" {
		var rels []struct {
			Type    uint32
			Targets []struct {
				Name string
				Path dbus.ObjectPath
			}
		}
		if err := obj.CallWithContext(ctx, "org.a11y.atspi.Accessible.GetRelationSet", 0).Store(&rels); err == nil {
			for _, r := range rels {
				if r.Type == relationLabelledBy && len(r.Targets) > 0 {
					f.Label = c.name(ctx, c.a11y.Object(r.Targets[0].Name, r.Targets[0].Path))
					break
				}
			}
		}
	}
	f.Bounds = c.extents(ctx, obj)
	if f.Label == "" && !f.Bounds.Empty() {
		f.Label = c.nearbyLabel(ctx, sender, obj, f.Bounds)
	}
	return f, nil
}

type objRef struct {
	Name string
	Path dbus.ObjectPath
}

func (c *Client) extents(ctx context.Context, obj dbus.BusObject) image.Rectangle {
	var ext struct{ X, Y, W, H int32 }
	err := obj.CallWithContext(ctx, "org.a11y.atspi.Component.GetExtents", 0, uint32(coordTypeScreen)).Store(&ext)
	if err != nil || ext.W <= 0 || ext.H <= 0 {
		return image.Rectangle{}
	}
	return image.Rect(int(ext.X), int(ext.Y), int(ext.X+ext.W), int(ext.Y+ext.H))
}

// maxSiblings bounds the search for a label next to an unlabelled field.
const maxSiblings = 64

// nearbyLabel finds, among the field's siblings, the label on the same row to its left (or
// directly above it), as screen readers do for forms built without label relations.
func (c *Client) nearbyLabel(ctx context.Context, sender string, obj dbus.BusObject, field image.Rectangle) string {
	var pv dbus.Variant
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.a11y.atspi.Accessible", "Parent").Store(&pv); err != nil {
		return ""
	}
	var parent objRef
	if err := dbus.Store([]any{pv.Value()}, &parent); err != nil || parent.Path == "" {
		return ""
	}
	var kids []objRef
	if err := c.a11y.Object(parent.Name, parent.Path).CallWithContext(ctx, "org.a11y.atspi.Accessible.GetChildren", 0).Store(&kids); err != nil {
		return ""
	}
	best, bestDist := "", 1<<30
	for i, k := range kids {
		if i >= maxSiblings {
			break
		}
		o := c.a11y.Object(k.Name, k.Path)
		var role string
		if o.CallWithContext(ctx, "org.a11y.atspi.Accessible.GetRoleName", 0).Store(&role) != nil || role != "label" {
			continue
		}
		r := c.extents(ctx, o)
		if r.Empty() {
			continue
		}
		var dist int
		switch {
		case r.Max.X <= field.Min.X+4 && r.Min.Y < field.Max.Y && r.Max.Y > field.Min.Y: // same row, left
			dist = field.Min.X - r.Max.X
		case r.Max.Y <= field.Min.Y+4 && r.Min.X < field.Max.X && r.Max.X > field.Min.X: // above
			dist = 2 * (field.Min.Y - r.Max.Y)
		default:
			continue
		}
		if dist < bestDist {
			if name := c.name(ctx, o); name != "" {
				best, bestDist = name, dist
			}
		}
	}
	return best
}

func (c *Client) name(ctx context.Context, obj dbus.BusObject) string {
	var v dbus.Variant
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.a11y.atspi.Accessible", "Name").Store(&v); err != nil {
		return ""
	}
	s, _ := v.Value().(string)
	return s
}
