package ipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// ErrNotConnected is returned by Client.Send for messages that are not kept while the
// service is away (heartbeat, status_request).
var ErrNotConnected = errors.New("ipc: not connected to the service")

// Client is the session helper's side: it keeps a connection to the service, reconnecting
// with capped, jittered backoff, sends Hello on every connection and a heartbeat while
// connected, and keeps PCI events while disconnected. Masking does not wait for it: the
// helper masks locally and tells the Client afterwards.
//
// While disconnected, pci_open and pci_close are queued in order (the oldest are dropped past
// QueueLimit), and the latest selfcheck is kept. After each reconnect the Client first
// re-announces every episode that is still open (pci_open with its original fields), then
// sends the queue, so the service always learns what is on screen now. Episode ids make the
// repeats idempotent for the service.
type Client struct {
	// Set these before Run.
	OnMessage         func(Msg)                       // called on the reading goroutine for every message; must not block long
	OnConnState       func(connected bool, err error) // connection changes, e.g. for the tray's degraded state
	MinBackoff        time.Duration                   // first retry delay (default 100ms)
	MaxBackoff        time.Duration                   // retry delay cap (default 5s)
	HeartbeatInterval time.Duration                   // default 2s
	QueueLimit        int                             // default 1024

	path  string
	hello Hello
	log   *slog.Logger

	mu        sync.Mutex
	queue     []Msg
	open      map[uint64]PCIOpen
	connected bool
	dropped   int
	wake      chan struct{}
}

// NewClient makes a Client for the service at path. hello is sent on every connection.
func NewClient(path string, hello Hello, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if hello.Proto == 0 {
		hello.Proto = Version
	}
	return &Client{
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second,
		HeartbeatInterval: 2 * time.Second, QueueLimit: 1024,
		path: path, hello: hello, log: log.With("component", "ipc-client"),
		open: map[uint64]PCIOpen{}, wake: make(chan struct{}, 1),
	}
}

// Connected reports whether the Client has a live connection that accepted Hello.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Send hands a message to the Client. It never blocks on the network. Messages that could
// carry card data are refused here, before they are queued.
func (c *Client) Send(m Msg) error {
	if _, err := Encode(m); err != nil {
		return err
	}
	c.mu.Lock()
	switch v := m.(type) {
	case Hello:
		c.mu.Unlock()
		return errors.New("ipc: the client sends hello itself")
	case PCIOpen:
		c.open[v.Episode] = v
		c.push(m)
	case PCIClose:
		delete(c.open, v.Episode)
		c.push(m)
	case Selfcheck:
		c.queue = slices.DeleteFunc(c.queue, func(q Msg) bool { _, ok := q.(Selfcheck); return ok })
		c.push(m)
	default:
		if !c.connected {
			c.mu.Unlock()
			return ErrNotConnected
		}
		c.push(m)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// push appends to the queue; c.mu is held.
func (c *Client) push(m Msg) {
	limit := c.QueueLimit
	if limit <= 0 {
		limit = 1024
	}
	if len(c.queue) >= limit {
		c.queue = c.queue[1:]
		c.dropped++
		c.log.Warn("queue full while the service is away: dropped the oldest message", "dropped_total", c.dropped)
	}
	c.queue = append(c.queue, m)
}

// Run keeps the connection until ctx ends; it returns nil then.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.MinBackoff
	for {
		conn, err := Dial(ctx, c.path)
		if err == nil {
			var up bool
			up, err = c.session(ctx, conn)
			if up {
				backoff = c.MinBackoff
			}
		}
		if ctx.Err() != nil {
			c.setConnected(false, nil)
			return nil
		}
		c.setConnected(false, err)
		c.log.Debug("service unreachable, retrying", "err", err, "in", backoff)
		// Full jitter in [backoff/2, backoff] so helpers of many sessions do not reconnect
		// in lock step after a service restart.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, c.MaxBackoff)
	}
}

func (c *Client) setConnected(up bool, err error) {
	c.mu.Lock()
	changed := c.connected != up
	c.connected = up
	c.mu.Unlock()
	if changed {
		switch {
		case up:
			c.log.Info("connected to the service", "path", c.path)
		case err != nil:
			c.log.Warn("lost the service", "err", err)
		default:
			c.log.Info("disconnected from the service")
		}
		if c.OnConnState != nil {
			c.OnConnState(up, err)
		}
	}
}

// session runs one connection: hello, re-announcements, queue, heartbeats, and a reader.
// up reports whether hello went out.
func (c *Client) session(ctx context.Context, conn *Conn) (up bool, err error) {
	readErr := make(chan error, 1)
	go func() { readErr <- c.read(conn) }()
	defer func() {
		conn.Close()
		<-readErr
	}()

	if err := conn.Send(c.hello); err != nil {
		// Not a connection problem when our own hello is refused: say so loudly.
		c.log.Error("cannot greet the service", "err", err)
		return false, err
	}
	c.mu.Lock()
	queued := map[uint64]bool{}
	for _, m := range c.queue {
		if o, ok := m.(PCIOpen); ok {
			queued[o.Episode] = true
		}
	}
	var replay []Msg
	for _, ep := range slices.Sorted(maps.Keys(c.open)) {
		if !queued[ep] {
			replay = append(replay, c.open[ep])
		}
	}
	c.queue = append(replay, c.queue...)
	c.mu.Unlock()
	c.setConnected(true, nil)

	hb := time.NewTicker(c.HeartbeatInterval)
	defer hb.Stop()
	for {
		if err := c.drain(conn); err != nil {
			return true, err
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-readErr:
			readErr <- err // for the deferred wait
			return true, err
		case <-c.wake:
		case <-hb.C:
			if err := conn.Send(Heartbeat{}); err != nil {
				return true, err
			}
		}
	}
}

// drain sends queued messages in order; a message whose write fails goes back to the front.
func (c *Client) drain(conn *Conn) error {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return nil
		}
		m := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		if err := conn.Send(m); err != nil {
			var pe *ProtoError
			if errors.As(err, &pe) && !pe.Fatal {
				c.log.Error("dropped a message that cannot be encoded", "type", m.Type(), "err", err)
				continue
			}
			c.mu.Lock()
			switch m.(type) {
			case PCIOpen, PCIClose, Selfcheck:
				c.queue = append([]Msg{m}, c.queue...)
			}
			c.mu.Unlock()
			return err
		}
	}
}

func (c *Client) read(conn *Conn) error {
	for {
		m, err := conn.Recv()
		if err != nil {
			var pe *ProtoError
			if errors.As(err, &pe) && !pe.Fatal {
				c.log.Warn("skipped a bad message from the service", "err", err)
				continue
			}
			return fmt.Errorf("ipc: client read: %w", err)
		}
		if e, ok := m.(Error); ok {
			c.log.Warn("service reported an error", "msg", e.Msg)
		}
		if c.OnMessage != nil {
			c.OnMessage(m)
		}
	}
}
