package agent

import (
	"errors"
	"fmt"

	"github.com/cc532012/drpc/daemon/sockowner"
)

// ErrSocketInUse: another process listens on the agent's socket.
var ErrSocketInUse = errors.New("agent socket is in use")

// socketInUse describes the process that listens on path, for the error of a
// second agent.
func socketInUse(path string, cause error) error {
	return &inUseError{path: path, who: sockowner.Describe(path), cause: cause}
}

// inUseError is the error of a second agent on a live socket. It wraps
// ErrSocketInUse and the transport's error (drpc.ErrSocketInUse).
type inUseError struct {
	path, who string
	cause     error
}

// Error names the socket, the process that serves it and what to do.
func (e *inUseError) Error() string {
	return fmt.Sprintf("%v: %s is served by %s: stop that agent first, or give this one another --runtime-dir",
		ErrSocketInUse, e.path, e.who)
}

// Unwrap returns ErrSocketInUse and the transport's error.
func (e *inUseError) Unwrap() []error { return []error{ErrSocketInUse, e.cause} }
