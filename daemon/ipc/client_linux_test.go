//go:build linux

package ipc

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a test service: it accepts connections one at a time and forwards every message
// it receives.
type server struct {
	l    *Listener
	msgs chan Msg
	wg   sync.WaitGroup
	mu   sync.Mutex
	cur  *Conn
}

func startServer(t *testing.T, path string) *server {
	t.Helper()
	l, err := Listen(path, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{l: l, msgs: make(chan Msg, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.cur = c
			s.mu.Unlock()
			_ = c.Send(Welcome{AgentID: "agent-1", Version: "test"})
			for {
				m, err := c.Recv()
				if err != nil {
					break
				}
				s.msgs <- m
			}
			c.Close()
		}
	}()
	return s
}

// stop closes the listener and the current connection, like a service that exits.
func (s *server) stop() {
	s.l.Close()
	s.mu.Lock()
	if s.cur != nil {
		s.cur.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// next returns the next message that is not a heartbeat.
func (s *server) next(t *testing.T) Msg {
	t.Helper()
	for {
		m := within(t, s.msgs, "server message")
		if m.Type() != TypeHeartbeat {
			return m
		}
	}
}

func TestClientReconnectsAndReplays(t *testing.T) {
	path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
	ctx, cancel := context.WithCancel(context.Background())
	conn := make(chan bool, 100)
	welcomes := make(chan Msg, 100)
	c := NewClient(path, Hello{PID: 99, SessionID: "s1", Display: ":65"}, testLog(t))
	c.MinBackoff, c.MaxBackoff, c.HeartbeatInterval = 5*time.Millisecond, 50*time.Millisecond, 20*time.Millisecond
	c.OnConnState = func(up bool, _ error) { conn <- up }
	c.OnMessage = func(m Msg) {
		if m.Type() == TypeWelcome {
			welcomes <- m
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := within(t, done, "Run to return"); err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	}()

	// The service is not there yet: PCI events queue, heartbeats are refused.
	if err := c.Send(PCIOpen{Episode: 1, Field: "credit_card_number", Kind: KindField, At: at}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(StatusRequest{}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("StatusRequest while down = %v", err)
	}
	if err := c.Send(PCIOpen{Episode: 2, Field: "4111111111111111", Kind: KindPAN}); err == nil {
		t.Fatal("Client.Send accepted card digits")
	}

	s1 := startServer(t, path)
	want := []struct {
		typ Type
		ep  uint64
	}{{TypeHello, 0}, {TypePCIOpen, 1}}
	expect(t, s1, want)
	if !within(t, conn, "connected") {
		t.Fatal("first state change was not connected")
	}
	if m := within(t, welcomes, "welcome"); m.(Welcome).AgentID != "agent-1" {
		t.Errorf("welcome %+v", m)
	}
	if err := c.Send(PCIOpen{Episode: 3, Field: "cvv", Kind: KindField, At: at}); err != nil {
		t.Fatal(err)
	}
	expect(t, s1, []struct {
		typ Type
		ep  uint64
	}{{TypePCIOpen, 3}})

	// The service restarts. While it is away episode 1 closes and episode 4 opens.
	s1.stop()
	if within(t, conn, "disconnected") {
		t.Fatal("expected a disconnect")
	}
	c.Send(PCIClose{Episode: 1, At: at, Reason: "cleared"})
	c.Send(PCIOpen{Episode: 4, Field: "expiry", Kind: KindField, At: at})
	c.Send(Selfcheck{OK: false, Detail: "old"})
	c.Send(Selfcheck{OK: true, Detail: "new"})

	s2 := startServer(t, path)
	defer s2.stop()
	// Hello first; episode 3, still open and not in the queue, is re-announced; then the queue
	// in order, with only the latest selfcheck.
	expect(t, s2, []struct {
		typ Type
		ep  uint64
	}{{TypeHello, 0}, {TypePCIOpen, 3}, {TypePCIClose, 1}, {TypePCIOpen, 4}, {TypeSelfcheck, 0}})
	if !within(t, conn, "reconnected") {
		t.Fatal("expected a reconnect")
	}
	if err := c.Send(StatusRequest{}); err != nil {
		t.Errorf("StatusRequest while connected = %v", err)
	}
	expect(t, s2, []struct {
		typ Type
		ep  uint64
	}{{TypeStatusRequest, 0}})
	// Heartbeats keep coming while connected.
	for {
		if m := within(t, s2.msgs, "heartbeat"); m.Type() == TypeHeartbeat {
			break
		}
	}
}

func expect(t *testing.T, s *server, want []struct {
	typ Type
	ep  uint64
}) {
	t.Helper()
	for i, w := range want {
		m := s.next(t)
		var ep uint64
		switch v := m.(type) {
		case PCIOpen:
			ep = v.Episode
		case PCIClose:
			ep = v.Episode
		case Selfcheck:
			if v.Detail != "new" {
				t.Errorf("selfcheck %+v, want only the latest", v)
			}
		case Hello:
			if v.Proto != Version || v.PID != 99 || v.Display != ":65" {
				t.Errorf("hello %+v", v)
			}
		}
		if m.Type() != w.typ || ep != w.ep {
			t.Fatalf("message %d: got %s episode %d, want %s episode %d", i, m.Type(), ep, w.typ, w.ep)
		}
	}
}

func TestClientQueueLimit(t *testing.T) {
	c := NewClient("/nonexistent/ipc.sock", Hello{}, nil)
	c.QueueLimit = 3
	for ep := uint64(1); ep <= 5; ep++ {
		if err := c.Send(PCIClose{Episode: ep, Reason: "cleared"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.queue) != 3 || c.queue[0].(PCIClose).Episode != 3 || c.dropped != 2 {
		t.Errorf("queue %+v dropped %d, want episodes 3..5 and 2 dropped", c.queue, c.dropped)
	}
	if err := c.Send(Hello{Proto: 1}); err == nil {
		t.Error("Send(Hello) accepted")
	}
}

func TestClientRunStopsWithoutService(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"), Hello{}, testLog(t))
	c.MinBackoff = time.Millisecond
	states := make(chan bool, 10)
	c.OnConnState = func(up bool, _ error) { states <- up }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	cancel()
	if err := within(t, done, "Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
	if c.Connected() {
		t.Error("Connected() true without a service")
	}
	select {
	case up := <-states:
		t.Errorf("state change %v without ever connecting", up)
	default:
	}
}

// TestClientRefused: a service that refuses the helper's user sends an error the client hands
// to OnMessage; the client never counts as connected for long and keeps retrying.
func TestClientRefused(t *testing.T) {
	path := filepath.Join(sockDir(t, 0o755), "ipc.sock")
	l, err := Listen(path, testLog(t), WithAuthorizer(AllowUIDs(4242)))
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	errs := make(chan string, 100)
	c := NewClient(path, Hello{PID: 1}, testLog(t))
	c.MinBackoff, c.MaxBackoff = time.Millisecond, 10*time.Millisecond
	c.OnMessage = func(m Msg) {
		if e, ok := m.(Error); ok {
			errs <- e.Msg
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for i := 0; i < 2; i++ { // two refusals: it retried
		if msg := within(t, errs, "refusal"); !strings.Contains(msg, "not authorized") {
			t.Errorf("refusal %q", msg)
		}
	}
	cancel()
	if err := within(t, done, "Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
	l.Close()
	<-accepted
}
