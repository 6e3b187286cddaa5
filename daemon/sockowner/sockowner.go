package sockowner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Timeout bounds the connection of Describe.
const Timeout = time.Second

// Owner is the process that listens on a socket.
type Owner struct {
	// PID is its process ID.
	PID int
	// Name is its command name (/proc/PID/comm, at most 15 bytes), or ""
	// if it cannot be read (the process is gone, or /proc is hidden).
	Name string
}

// String returns "process PID (NAME)", or "process PID" without a name.
func (o Owner) String() string {
	s := "process " + strconv.Itoa(o.PID)
	if o.Name != "" {
		s += " (" + o.Name + ")"
	}
	return s
}

// Lookup connects to the Unix socket at path (SOCK_SEQPACKET, or SOCK_STREAM
// if the socket is of that type) and returns the process that listens on
// it. A socket nobody listens on is an error wrapping syscall.ECONNREFUSED;
// a missing path, one wrapping os.ErrNotExist.
func Lookup(ctx context.Context, path string) (Owner, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if errors.Is(err, syscall.EPROTOTYPE) {
		c, err = d.DialContext(ctx, "unix", path)
	}
	if err != nil {
		return Owner{}, fmt.Errorf("find the process that listens on %s: %w", path, err)
	}
	defer c.Close()
	pid, err := peerPID(c.(*net.UnixConn))
	if err != nil {
		return Owner{}, fmt.Errorf("find the process that listens on %s: %w", path, err)
	}
	return Owner{PID: pid, Name: processName(pid)}, nil
}

// Describe names the process that listens on the socket at path, as
// Owner.String does, or returns "another process" if Lookup cannot tell
// within Timeout. It is meant for messages.
func Describe(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	o, err := Lookup(ctx, path)
	if err != nil || o.PID <= 0 {
		return "another process"
	}
	return o.String()
}

// peerPID returns the pid that SO_PEERCRED reports for c.
func peerPID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return int(cred.Pid), nil
}

// processName returns the command name of pid, or "".
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
