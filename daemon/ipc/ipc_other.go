//go:build !linux && !windows

package ipc

import (
	"context"
	"fmt"
	"net"
	"runtime"
)

var errGOOS = fmt.Errorf("ipc transport not supported on %s", runtime.GOOS)

func listen(string) (net.Listener, func() error, error) { return nil, nil, errGOOS }

func dial(context.Context, string) (net.Conn, error) { return nil, errGOOS }

func peerOf(net.Conn) (Peer, error) { return Peer{}, errGOOS }

func trustedServer(Peer) error { return errGOOS }

// LoggedInUsers refuses everyone on unsupported systems.
func LoggedInUsers() Authorizer {
	return func(Peer) error { return fmt.Errorf("%w: %w", ErrNotAuthorized, errGOOS) }
}
