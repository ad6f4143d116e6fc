package x11

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// X protocol packet types the framer must know.
const (
	packetReply   = 1
	packetGeneric = 35 // GenericEvent (XGE): 32 bytes plus length*4
)

// maxPacket bounds one reply or generic event; X replies can be large (GetImage), but this
// connection never asks for one bigger than a keyboard mapping or a 4 KiB property.
const maxPacket = 16 << 20

// framedConn sits between xgb and the socket. xgb reads every event as 32 bytes and pairs one
// reply with one request, but XInput2 GenericEvents are longer. framedConn reads the byte
// stream packet by packet, hands diverted packets (GenericEvents and the extension events
// the caller claims) to divert, and passes everything else through unchanged. It also puts
// the MIT-MAGIC-COOKIE-1 into the connection setup, which xgb.NewConnNet sends without one.
type framedConn struct {
	net.Conn
	r      *bufio.Reader
	cookie []byte

	// divert is called on xgb's reader goroutine with a packet it must not keep.
	divert func(pkt []byte)
	// claim reports whether an event code (high bit cleared) is diverted too.
	claim func(code byte) bool

	wmu       sync.Mutex
	setupSent bool

	setupDone bool
	pending   []byte
	buf       []byte
}

func newFramedConn(c net.Conn, cookie []byte, divert func([]byte), claim func(byte) bool) *framedConn {
	return &framedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), cookie: cookie, divert: divert, claim: claim,
		buf: make([]byte, 0, 4096)}
}

// Write rewrites the first write (the setup request) to carry our cookie.
func (f *framedConn) Write(p []byte) (int, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.setupSent {
		return f.Conn.Write(p)
	}
	f.setupSent = true
	if len(p) < 12 || p[0] != 'l' {
		return 0, errors.New("x11: unexpected connection setup from xgb")
	}
	name := ""
	if len(f.cookie) > 0 {
		name = cookieName
	}
	req := make([]byte, 12+pad4(len(name))+pad4(len(f.cookie)))
	copy(req, p[:6])
	binary.LittleEndian.PutUint16(req[6:], uint16(len(name)))
	binary.LittleEndian.PutUint16(req[8:], uint16(len(f.cookie)))
	copy(req[12:], name)
	copy(req[12+pad4(len(name)):], f.cookie)
	if _, err := f.Conn.Write(req); err != nil {
		return 0, err
	}
	clear(req)
	clear(f.cookie)
	f.cookie = nil
	return len(p), nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

// Read serves xgb the packets it may see.
func (f *framedConn) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	if len(f.pending) == 0 && f.setupDone {
		// Replies may hold selection text: do not leave a copy here once xgb has its own.
		clear(f.buf)
	}
	return n, nil
}

// next reads one packet (or the setup reply) into pending, or diverts it.
func (f *framedConn) next() error {
	if !f.setupDone {
		// Setup reply: 8-byte header, then length*4 bytes.
		head := make([]byte, 8)
		if _, err := io.ReadFull(f.r, head); err != nil {
			return err
		}
		n := int(binary.LittleEndian.Uint16(head[6:])) * 4
		pkt := make([]byte, 8+n)
		copy(pkt, head)
		if _, err := io.ReadFull(f.r, pkt[8:]); err != nil {
			return err
		}
		f.setupDone = true
		f.pending = pkt
		return nil
	}
	f.buf = f.buf[:32]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return err
	}
	code := f.buf[0] & 0x7f
	if f.buf[0] == packetReply || code == packetGeneric {
		extra := int(binary.LittleEndian.Uint32(f.buf[4:8])) * 4
		if extra < 0 || extra > maxPacket {
			return fmt.Errorf("x11: packet of %d bytes exceeds the %d limit", extra, maxPacket)
		}
		if cap(f.buf) < 32+extra {
			nb := make([]byte, 32+extra)
			copy(nb, f.buf)
			f.buf = nb
		}
		f.buf = f.buf[:32+extra]
		if _, err := io.ReadFull(f.r, f.buf[32:]); err != nil {
			return err
		}
	}
	if code == packetGeneric || (f.buf[0] > packetReply && f.claim != nil && f.claim(code)) {
		f.divert(f.buf)
		clear(f.buf)
		return nil
	}
	// xgb keeps nothing of what we hand it beyond the copy it reads, but pending must not
	// alias buf, which the next packet overwrites only after pending is drained.
	f.pending = f.buf
	return nil
}
