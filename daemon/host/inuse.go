package host

import (
	"errors"
	"fmt"

	"github.com/cc532012/drpc/daemon/sockowner"
	"github.com/cc532012/drpc/drpc"
)

// ErrSocketInUse: another process listens on the daemon's socket. The
// error also wraps the transport's drpc.ErrSocketInUse.
var ErrSocketInUse = errors.New("socket is in use")

// inUseError is the error of a daemon whose socket another process serves:
// it names the socket and that process, and says what to do.
type inUseError struct {
	name, path, who, dirFlag string
	cause                    error
}

func socketInUse(name, path, dirFlag string, cause error) error {
	return &inUseError{name: name, path: path, who: sockowner.Describe(path), dirFlag: dirFlag, cause: cause}
}

// SocketInUse returns the error of the daemon name whose socket at path
// another process serves, as Start gives it: it wraps ErrSocketInUse and
// drpc.ErrSocketInUse, names the process, and says to stop it or to give
// another dirFlag. A daemon's Prepare hook uses it when it finds the
// socket in use before the host does.
func SocketInUse(name, path, dirFlag string) error {
	return socketInUse(name, path, dirFlag, drpc.ErrSocketInUse)
}

// Error names the socket, the process that serves it and what to do.
func (e *inUseError) Error() string {
	return fmt.Sprintf("%s %v: %s is served by %s: stop that %s first, or give this one another %s",
		e.name, ErrSocketInUse, e.path, e.who, e.name, e.dirFlag)
}

// Unwrap returns ErrSocketInUse and the transport's error.
func (e *inUseError) Unwrap() []error { return []error{ErrSocketInUse, e.cause} }
