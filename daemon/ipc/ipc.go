// Package ipc is the local channel between the service and the session helpers: a versioned
// protocol of length-prefixed JSON frames, and the transport that carries it — a unix socket
// whose every connection is authenticated with SO_PEERCRED on Linux, a named pipe with an
// explicit ACL on Windows. The service Listens and Accepts; a helper Dials, or runs a Client
// that reconnects with backoff and queues PCI events while the service is away.
//
// Frame: a 4-byte big-endian length (at most MaxFrame), then a JSON object
// {"v":1,"type":"<type>", ...fields}. No message ever holds card data: field names travel,
// values never do, and every text field is refused on send and on receive when it holds a run
// of more than six digits.
package ipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Peer is the identity of the process at the other end of a connection, as the operating
// system reports it (never as the peer claims it).
type Peer struct {
	UID  int    // -1 when unknown
	GID  int    // -1 when unknown
	PID  int    // 0 when unknown
	User string // user name, or the uid in decimal when it has no name
	// Exe is the absolute path of the peer's executable ("" when it could not be read). It is
	// read from /proc after the kernel reported the pid, so a peer that exits at once could in
	// principle have its pid reused in between; UID, GID and PID themselves are exact.
	Exe string
	// Session is the peer's login session where the platform knows it (Windows session id);
	// empty on Linux, where Hello.SessionID carries it.
	Session string
}

func (p Peer) String() string {
	return fmt.Sprintf("uid=%d gid=%d pid=%d user=%s exe=%s", p.UID, p.GID, p.PID, p.User, p.Exe)
}

// LogValue makes a Peer log as a group.
func (p Peer) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("uid", p.UID), slog.Int("pid", p.PID), slog.String("user", p.User), slog.String("exe", p.Exe))
}

// Authorizer decides whether a peer may talk to the service. A non-nil error refuses the
// connection; its text is sent to the peer and logged.
type Authorizer func(Peer) error

// ErrNotAuthorized is wrapped by every refusal.
var ErrNotAuthorized = errors.New("not authorized")

// AllowUIDs authorizes exactly the given user ids.
func AllowUIDs(uids ...int) Authorizer {
	return func(p Peer) error {
		for _, u := range uids {
			if p.UID == u {
				return nil
			}
		}
		return fmt.Errorf("%w: uid %d is not allowed", ErrNotAuthorized, p.UID)
	}
}

// AnyOf authorizes a peer that one of the authorizers accepts.
func AnyOf(as ...Authorizer) Authorizer {
	return func(p Peer) error {
		var last error = fmt.Errorf("%w: no rule accepts uid %d", ErrNotAuthorized, p.UID)
		for _, a := range as {
			err := a(p)
			if err == nil {
				return nil
			}
			last = err
		}
		return last
	}
}

// Option configures Listen.
type Option func(*Listener)

// WithAuthorizer sets the peer check. The default accepts only the listening process's own
// effective uid (root for the installed service).
func WithAuthorizer(a Authorizer) Option { return func(l *Listener) { l.auth = a } }

// WithTimeouts sets the per-frame write timeout of accepted connections (default 5s).
func WithTimeouts(write time.Duration) Option { return func(l *Listener) { l.writeTimeout = write } }

// Listener accepts authenticated connections from session helpers.
type Listener struct {
	ln           net.Listener
	path         string
	log          *slog.Logger
	auth         Authorizer
	writeTimeout time.Duration
	cleanup      func() error
}

// Listen creates the service's endpoint at path (Linux: a unix socket, mode 0666 in a
// root-only-writable directory; every connection is checked by the Authorizer).
func Listen(path string, log *slog.Logger, opts ...Option) (*Listener, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Listener{path: path, log: log.With("component", "ipc"), writeTimeout: 5 * time.Second}
	l.auth = AllowUIDs(os.Geteuid())
	for _, o := range opts {
		o(l)
	}
	ln, cleanup, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("ipc: listen %s: %w", path, err)
	}
	l.ln, l.cleanup = ln, cleanup
	l.log.Info("listening", "path", path)
	return l, nil
}

// Addr is the path the listener serves.
func (l *Listener) Addr() string { return l.path }

// Accept waits for the next authorized connection. Refused peers are told why, logged and
// closed, and Accept goes on waiting. After Close it returns net.ErrClosed.
func (l *Listener) Accept() (*Conn, error) {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			return nil, fmt.Errorf("ipc: accept: %w", err)
		}
		peer, err := peerOf(nc)
		if err != nil {
			l.log.Warn("refused connection: peer credentials unavailable", "err", err)
			nc.Close()
			continue
		}
		c := newConn(nc, peer, l.writeTimeout)
		if err := l.auth(peer); err != nil {
			if !errors.Is(err, ErrNotAuthorized) {
				err = fmt.Errorf("%w: %w", ErrNotAuthorized, err)
			}
			l.log.Warn("refused connection", "peer", peer, "err", err)
			_ = c.Send(Error{Msg: Text(err.Error())})
			c.Close()
			continue
		}
		l.log.Debug("accepted connection", "peer", peer)
		return c, nil
	}
}

// Close stops listening and removes the socket file. Established connections stay open.
func (l *Listener) Close() error {
	err := l.ln.Close()
	if l.cleanup != nil {
		if cerr := l.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Dial connects to the service at path and checks that the endpoint is owned by root (or
// LocalSystem) or by the caller's own user, so that a process cannot stand in for the service
// by claiming the path first.
func Dial(ctx context.Context, path string) (*Conn, error) {
	nc, err := dial(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("ipc: dial %s: %w", path, err)
	}
	peer, err := peerOf(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ipc: dial %s: service credentials: %w", path, err)
	}
	if err := trustedServer(peer); err != nil {
		nc.Close()
		return nil, fmt.Errorf("ipc: dial %s: %w", path, err)
	}
	return newConn(nc, peer, 5*time.Second), nil
}

// Conn is one authenticated connection. Send may be called from several goroutines; Recv from
// one at a time.
type Conn struct {
	nc           net.Conn
	peer         Peer
	writeTimeout time.Duration
	wmu          sync.Mutex
	closeOnce    sync.Once
	closeErr     error
}

func newConn(nc net.Conn, p Peer, wt time.Duration) *Conn {
	return &Conn{nc: nc, peer: p, writeTimeout: wt}
}

// Peer is the identity of the other end, from the operating system.
func (c *Conn) Peer() Peer { return c.peer }

// Send writes one message within the write timeout. A message that could carry card data, or
// is otherwise invalid, is refused before anything is written.
func (c *Conn) Send(m Msg) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	if err := WriteFrame(c.nc, body); err != nil {
		return fmt.Errorf("ipc: send %s: %w", m.Type(), err)
	}
	return nil
}

// Recv reads the next message, waiting at most until the deadline set with SetReadDeadline.
// A *ProtoError with Fatal=false means one bad frame was skipped and Recv may be called again;
// any other error ends the connection (io.EOF when the peer closed it cleanly).
func (c *Conn) Recv() (Msg, error) {
	m, err := ReadMsg(c.nc)
	if err != nil {
		var pe *ProtoError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("ipc: recv: %w", err)
	}
	return m, nil
}

// SetReadDeadline bounds the next Recv calls; the zero time waits forever.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Close closes the connection; a blocked Recv returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.nc.Close() })
	return c.closeErr
}
