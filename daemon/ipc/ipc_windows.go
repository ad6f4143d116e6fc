//go:build windows

package ipc

import (
	"context"
	"errors"
	"net"
)

// The Windows transport (a named pipe with an explicit SDDL through go-winio, the client's
// session from GetNamedPipeClientSessionId) is not implemented yet; these stubs keep the
// package building and fail clearly at run time.
var errWindows = errors.New("named pipe transport not implemented on windows yet")

func listen(string) (net.Listener, func() error, error) { return nil, nil, errWindows }

func dial(context.Context, string) (net.Conn, error) { return nil, errWindows }

func peerOf(net.Conn) (Peer, error) { return Peer{}, errWindows }

func trustedServer(Peer) error { return errWindows }

// LoggedInUsers authorizes peers in an interactive session. Not implemented on Windows yet:
// it refuses everyone.
func LoggedInUsers() Authorizer {
	return func(Peer) error { return errors.Join(ErrNotAuthorized, errWindows) }
}
