package activation

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/coreos/go-systemd/v22/activation"
	"golang.org/x/sys/unix"
)

// Errors for inherited descriptors that a dRPC daemon cannot serve; test with
// errors.Is.
var (
	// ErrFDCount: systemd passed more than one descriptor.
	ErrFDCount = errors.New("socket activation: want exactly one listening socket")
	// ErrWrongSocket: the descriptor is not a listening AF_UNIX
	// SOCK_SEQPACKET socket.
	ErrWrongSocket = errors.New("socket activation: inherited descriptor is not a listening AF_UNIX SOCK_SEQPACKET socket")
)

const unitHint = "the .socket unit must have exactly one ListenSequentialPacket= line naming the socket path"

// Listener returns the listening socket that systemd passed, if the daemon
// was socket-activated (LISTEN_PID is this process and LISTEN_FDS is set),
// and nil, nil otherwise. The LISTEN_* variables are removed from the
// environment either way, so child processes do not take them for their own.
// Anything but exactly one listening AF_UNIX SOCK_SEQPACKET socket is an
// error wrapping ErrFDCount or ErrWrongSocket; the inherited descriptors are
// then closed.
func Listener() (*net.UnixListener, error) {
	files := activation.Files(true)
	if len(files) == 0 {
		return nil, nil
	}
	return FromFiles(files)
}

// FromFiles returns the listener of files, the descriptors a daemon inherited
// (as activation.Files returns them), with the checks of Listener. It takes
// ownership of files: they are closed (the listener holds its own
// descriptor).
func FromFiles(files []*os.File) (*net.UnixListener, error) {
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if len(files) != 1 {
		return nil, fmt.Errorf("%w, got %d (LISTEN_FDS=%d): %s", ErrFDCount, len(files), len(files), unitHint)
	}
	f := files[0]
	if err := check(f); err != nil {
		return nil, err
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("%w: fd %d: %w", ErrWrongSocket, f.Fd(), err)
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("%w: fd %d is a %T: %s", ErrWrongSocket, f.Fd(), ln, unitHint)
	}
	// The socket file is systemd's: never unlink it.
	ul.SetUnlinkOnClose(false)
	return ul, nil
}

// check verifies that f is a listening AF_UNIX SOCK_SEQPACKET socket.
func check(f *os.File) error {
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%w: fd %d: %w", ErrWrongSocket, fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%w: fd %d is not a socket: %s", ErrWrongSocket, fd, unitHint)
	}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("%w: fd %d: read SO_DOMAIN: %w", ErrWrongSocket, fd, err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("%w: fd %d: read SO_TYPE: %w", ErrWrongSocket, fd, err)
	}
	if domain != unix.AF_UNIX || typ != unix.SOCK_SEQPACKET {
		return fmt.Errorf("%w: fd %d is %s %s: %s", ErrWrongSocket, fd, domainName(domain), typeName(typ), unitHint)
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return fmt.Errorf("%w: fd %d: read SO_ACCEPTCONN: %w", ErrWrongSocket, fd, err)
	}
	if listening == 0 {
		return fmt.Errorf("%w: fd %d does not listen (Accept=no is needed in the .socket unit)", ErrWrongSocket, fd)
	}
	return nil
}

func domainName(d int) string {
	switch d {
	case unix.AF_UNIX:
		return "AF_UNIX"
	case unix.AF_INET:
		return "AF_INET (TCP/IP)"
	case unix.AF_INET6:
		return "AF_INET6 (TCP/IPv6)"
	case unix.AF_NETLINK:
		return "AF_NETLINK"
	}
	return fmt.Sprintf("family-%d", d)
}

func typeName(t int) string {
	switch t {
	case unix.SOCK_STREAM:
		return "SOCK_STREAM"
	case unix.SOCK_DGRAM:
		return "SOCK_DGRAM"
	case unix.SOCK_SEQPACKET:
		return "SOCK_SEQPACKET"
	case unix.SOCK_RAW:
		return "SOCK_RAW"
	}
	return fmt.Sprintf("type-%d", t)
}
