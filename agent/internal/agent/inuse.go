package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSocketInUse: another process listens on the agent's socket.
var ErrSocketInUse = errors.New("agent socket is in use")

// socketInUse describes the process that listens on path, for the error of a
// second agent.
func socketInUse(path string, cause error) error {
	who := "another process"
	if pid, err := listenerPID(path); err == nil && pid > 0 {
		who = fmt.Sprintf("process %d", pid)
		if name := processName(pid); name != "" {
			who += fmt.Sprintf(" (%s)", name)
		}
	}
	return &inUseError{path: path, who: who, cause: cause}
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

// listenerPID connects to the socket at path and returns the pid of the
// process at the other end: for a listening socket, the kernel records the
// listener's credentials (SO_PEERCRED on our end).
func listenerPID(path string) (int32, error) {
	d := net.Dialer{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return cred.Pid, nil
}

// processName returns the command name of pid, or "".
func processName(pid int32) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
