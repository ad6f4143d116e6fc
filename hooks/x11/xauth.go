package x11

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Xauthority families (Xauth.h).
const (
	familyInternet = 0
	familyLocal    = 256
	familyWild     = 65535
)

const cookieName = "MIT-MAGIC-COOKIE-1"

// errNoCookie means the authority file has no entry for the display: try without auth.
var errNoCookie = errors.New("no MIT-MAGIC-COOKIE-1 entry for the display")

type authEntry struct {
	family uint16
	addr   string
	number string
	name   string
	data   []byte
}

// parseXauthority decodes an Xauthority file: entries of family (2 bytes, big endian) then
// four length-prefixed fields (address, display number, auth name, auth data).
func parseXauthority(b []byte) ([]authEntry, error) {
	var out []authEntry
	field := func(off int) ([]byte, int, error) {
		if len(b)-off < 2 {
			return nil, off, fmt.Errorf("xauthority: truncated length at byte %d", off)
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if len(b)-off < n {
			return nil, off, fmt.Errorf("xauthority: field of %d bytes at byte %d runs past the end", n, off)
		}
		return b[off : off+n], off + n, nil
	}
	for off := 0; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("xauthority: truncated entry at byte %d", off)
		}
		e := authEntry{family: binary.BigEndian.Uint16(b[off:])}
		off += 2
		var f [4][]byte
		for i := range f {
			var err error
			if f[i], off, err = field(off); err != nil {
				return nil, err
			}
		}
		e.addr, e.number, e.name = string(f[0]), string(f[1]), string(f[2])
		e.data = append([]byte(nil), f[3]...)
		out = append(out, e)
	}
	return out, nil
}

// authPath is the authority file to read: explicit, then $XAUTHORITY, then ~/.Xauthority.
func authPath(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if p := os.Getenv("XAUTHORITY"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".Xauthority")
	}
	return ""
}

// findCookie picks the MIT-MAGIC-COOKIE-1 for display d from the entries, as libXau does:
// a local or wildcard entry (or an internet entry for a TCP host) whose display number
// matches or is empty.
func findCookie(entries []authEntry, d display, hostname string) ([]byte, error) {
	num := strconv.Itoa(d.number)
	for _, e := range entries {
		if e.name != cookieName || len(e.data) != 16 {
			continue
		}
		if e.number != "" && e.number != num {
			continue
		}
		switch e.family {
		case familyWild:
		case familyLocal:
			if e.addr != hostname {
				continue
			}
			if d.network == "tcp" && d.host != "localhost" && d.host != "127.0.0.1" && d.host != hostname {
				continue
			}
		case familyInternet:
			if d.network != "tcp" {
				continue
			}
		default:
			continue
		}
		return e.data, nil
	}
	return nil, errNoCookie
}

// readCookie loads the cookie for d from the authority file; a missing file or entry gives
// errNoCookie-wrapped errors so the caller can try without auth.
func readCookie(path string, d display) ([]byte, error) {
	if path == "" {
		return nil, errNoCookie
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("xauthority %s: %w", path, errNoCookie)
	}
	if err != nil {
		return nil, fmt.Errorf("xauthority: %w", err)
	}
	entries, err := parseXauthority(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	host, _ := os.Hostname()
	c, err := findCookie(entries, d, host)
	if err != nil {
		return nil, fmt.Errorf("xauthority %s: %w", path, err)
	}
	return c, nil
}
