package x11

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDisplay(t *testing.T) {
	tests := []struct {
		in      string
		want    display
		wantErr string
	}{
		{":0", display{network: "unix", addr: "/tmp/.X11-unix/X0", number: 0}, ""},
		{":70.0", display{network: "unix", addr: "/tmp/.X11-unix/X70", number: 70}, ""},
		{"unix:3", display{network: "unix", addr: "/tmp/.X11-unix/X3", number: 3}, ""},
		{"localhost:10.0", display{network: "tcp", addr: "localhost:6010", host: "localhost", number: 10}, ""},
		{"", display{}, "$DISPLAY is not set"},
		{"nocolon", display{}, "no ':'"},
		{":x", display{}, "bad display number"},
		{":-1", display{}, "bad display number"},
		{":99999", display{}, "bad display number"},
	}
	for _, tt := range tests {
		got, err := parseDisplay(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDisplay(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDisplay(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func entryBytes(family uint16, addr, num, name string, data []byte) []byte {
	var b bytes.Buffer
	put := func(s []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint16(len(s)))
		b.Write(s)
	}
	_ = binary.Write(&b, binary.BigEndian, family)
	put([]byte(addr))
	put([]byte(num))
	put([]byte(name))
	put(data)
	return b.Bytes()
}

func TestFindCookie(t *testing.T) {
	c1, c2, c3 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 16)
	file := append(append(append(entryBytes(familyLocal, "otherhost", "5", cookieName, c3),
		entryBytes(familyLocal, "myhost", "4", cookieName, c1)...),
		entryBytes(familyLocal, "myhost", "5", "XDM-AUTHORIZATION-1", c3)...),
		entryBytes(familyLocal, "myhost", "5", cookieName, c2)...)
	entries, err := parseXauthority(file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		d    display
		want []byte
	}{
		{"display 4", display{network: "unix", number: 4}, c1},
		{"display 5 skips other host and other auth", display{network: "unix", number: 5}, c2},
		{"display 6 has none", display{network: "unix", number: 6}, nil},
		{"remote tcp host", display{network: "tcp", host: "far", number: 5}, nil},
		{"localhost tcp", display{network: "tcp", host: "localhost", number: 5}, c2},
	}
	for _, tt := range tests {
		got, err := findCookie(entries, tt.d, "myhost")
		if tt.want == nil {
			if !errors.Is(err, errNoCookie) {
				t.Errorf("%s: got %x, %v; want errNoCookie", tt.name, got, err)
			}
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %x, %v", tt.name, got, err)
		}
	}
}

func TestParseXauthorityErrors(t *testing.T) {
	good := entryBytes(familyLocal, "h", "1", cookieName, make([]byte, 16))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"one byte", []byte{1}, "truncated entry at byte 0"},
		{"no length", good[:3], "truncated length"},
		{"field past end", good[:len(good)-1], "runs past the end"},
	}
	for _, tt := range tests {
		_, err := parseXauthority(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestXauthFile reads a file written by the real xauth tool.
func TestXauthFile(t *testing.T) {
	if _, err := exec.LookPath("xauth"); err != nil {
		t.Skip("xauth is not installed (make deps installs it)")
	}
	f := filepath.Join(t.TempDir(), "auth")
	const hex = "00112233445566778899aabbccddeeff"
	if out, err := exec.Command("xauth", "-f", f, "add", ":73", ".", hex).CombinedOutput(); err != nil {
		t.Fatalf("xauth: %v: %s", err, out)
	}
	got, err := readCookie(f, display{network: "unix", number: 73})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}; !bytes.Equal(got, want) {
		t.Fatalf("cookie %x", got)
	}
	if _, err := readCookie(filepath.Join(t.TempDir(), "missing"), display{number: 1}); !errors.Is(err, errNoCookie) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(f, []byte{0, 1, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCookie(f, display{number: 1}); err == nil || errors.Is(err, errNoCookie) || !strings.Contains(err.Error(), f) {
		t.Fatalf("corrupt file: %v", err)
	}
}

func FuzzParseXauthority(f *testing.F) {
	f.Add(entryBytes(familyLocal, "h", "1", cookieName, make([]byte, 16)))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseXauthority(b)
		if err != nil {
			return
		}
		_, _ = findCookie(entries, display{network: "unix", number: 1}, "h")
	})
}

func FuzzParseDisplay(f *testing.F) {
	for _, s := range []string{":0", "host:1.0", "unix:2", "/tmp/x:3", ":", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDisplay(s)
		if err == nil && (d.network == "" || d.addr == "") {
			t.Fatalf("parseDisplay(%q) = %+v without error", s, d)
		}
	})
}

// framedPair runs a framedConn over a pipe: the test writes server bytes, reads what xgb
// would see, and collects diverted packets.
func framedPair(t *testing.T, claim func(byte) bool) (server net.Conn, f *framedConn, diverted *[][]byte) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	var got [][]byte
	f = newFramedConn(b, []byte("0123456789abcdef"), func(p []byte) { got = append(got, append([]byte(nil), p...)) }, claim)
	return a, f, &got
}

func TestFramedConnSetupCarriesCookie(t *testing.T) {
	server, f, _ := framedPair(t, nil)
	req := make([]byte, 12)
	req[0] = 'l'
	binary.LittleEndian.PutUint16(req[2:], 11)
	wrote := make(chan error, 1)
	go func() { _, err := f.Write(req); wrote <- err }()
	buf := make([]byte, 12+20+16)
	if _, err := io.ReadFull(server, buf); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint16(buf[6:]); n != uint16(len(cookieName)) {
		t.Fatalf("auth name length %d", n)
	}
	if string(buf[12:12+len(cookieName)]) != cookieName || string(buf[32:48]) != "0123456789abcdef" {
		t.Fatalf("setup request does not carry the cookie")
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if f.cookie != nil {
		t.Fatal("cookie kept after setup")
	}
}

func TestFramedConnFrames(t *testing.T) {
	server, f, diverted := framedPair(t, func(code byte) bool { return code == 90 })
	setup := make([]byte, 8+8)
	setup[0] = 1
	binary.LittleEndian.PutUint16(setup[6:], 2)
	event := make([]byte, 32)
	event[0] = 28 // PropertyNotify
	reply := make([]byte, 32+8)
	reply[0] = packetReply
	binary.LittleEndian.PutUint32(reply[4:], 2)
	generic := make([]byte, 32+12)
	generic[0] = packetGeneric
	binary.LittleEndian.PutUint32(generic[4:], 3)
	claimed := make([]byte, 32)
	claimed[0] = 90 | 0x80 // sent by SendEvent
	go func() {
		for _, p := range [][]byte{setup, event, generic, reply, claimed, event} {
			if _, err := server.Write(p); err != nil {
				return
			}
		}
	}()
	var want []byte
	for _, p := range [][]byte{setup, event, reply, event} {
		want = append(want, p...)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(f, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("xgb's view of the stream differs from setup+event+reply+event")
	}
	if len(*diverted) != 2 || len((*diverted)[0]) != 44 || (*diverted)[1][0] != 90|0x80 {
		t.Fatalf("diverted %d packets", len(*diverted))
	}
}

func TestFramedConnRejectsHugePacket(t *testing.T) {
	server, f, _ := framedPair(t, nil)
	f.setupDone = true
	p := make([]byte, 32)
	p[0] = packetReply
	binary.LittleEndian.PutUint32(p[4:], 1<<30)
	go func() { _, _ = server.Write(p) }()
	_ = f.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := f.Read(make([]byte, 32))
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("error %v, want a size error", err)
	}
}

// FuzzFramedConn feeds arbitrary server bytes: the framer must return data or an error,
// never panic or over-allocate.
func FuzzFramedConn(f *testing.F) {
	f.Add([]byte{1, 0, 11, 0, 0, 0, 0, 0}, []byte{35, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0, 5, 11, 0, 0, 0, 1, 0, 'n', 'o', 'p', 'e'}, []byte{1, 0, 0, 0, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, setup, stream []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		fc := newFramedConn(b, nil, func([]byte) {}, func(c byte) bool { return c == 87 })
		go func() {
			_, _ = a.Write(setup)
			_, _ = a.Write(bytes.Repeat(stream, 3))
			a.Close()
		}()
		buf := make([]byte, 64)
		for i := 0; i < 1000; i++ {
			if _, err := fc.Read(buf); err != nil {
				return
			}
		}
	})
}
