// Package x11 is the X11 event source of the hooks package: key presses from every client
// through XInput2 raw events, the active window through EWMH, its process, class, title and
// geometry, and clipboard changes through XFixes, all over one pure-Go (jezek/xgb)
// connection whose byte stream this package frames itself.
package x11

import (
	"fmt"
	"strconv"
	"strings"
)

// display is a parsed X display name.
type display struct {
	network string // "unix" or "tcp"
	addr    string // socket path or host:port
	host    string // "" for local
	number  int
}

// parseDisplay understands ":N", ":N.S", "unix:N", "/path/to/socket:N" (launchd style is not
// needed on Linux) and "host:N".
func parseDisplay(name string) (display, error) {
	if name == "" {
		return display{}, fmt.Errorf("display: $DISPLAY is not set")
	}
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return display{}, fmt.Errorf("display %q: no ':' before the display number", name)
	}
	host, rest := name[:i], name[i+1:]
	if j := strings.IndexByte(rest, '.'); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > 65535-6000 {
		return display{}, fmt.Errorf("display %q: bad display number %q", name, rest)
	}
	d := display{number: n}
	switch {
	case host == "" || host == "unix":
		d.network, d.addr = "unix", "/tmp/.X11-unix/X"+strconv.Itoa(n)
	case strings.HasPrefix(host, "/"):
		d.network, d.addr = "unix", host+":"+rest
	default:
		d.network, d.addr, d.host = "tcp", host+":"+strconv.Itoa(6000+n), host
	}
	return d, nil
}
