package unixsock

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Credentials are the identity of the process at the other end of a
// connection, as the kernel recorded it when the connection was made.
type Credentials struct {
	PID int32
	UID uint32
	GID uint32
}

// PeerCredentials reads SO_PEERCRED from conn's socket, through its raw
// connection (the descriptor is not duplicated).
func PeerCredentials(conn syscall.Conn) (Credentials, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return Credentials{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var sockErr error
	if err := raw.Control(func(fd uintptr) {
		cred, sockErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Credentials{}, fmt.Errorf("read peer credentials: %w", err)
	}
	if sockErr != nil {
		return Credentials{}, fmt.Errorf("read peer credentials (SO_PEERCRED): %w", sockErr)
	}
	return Credentials{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}

// CheckSeqpacket reports an error unless ln is an AF_UNIX SOCK_SEQPACKET
// socket, naming what it is instead.
func CheckSeqpacket(ln *net.UnixListener) error {
	raw, err := ln.SyscallConn()
	if err != nil {
		return fmt.Errorf("inspect listener: %w", err)
	}
	var typ int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	}); err != nil {
		return fmt.Errorf("inspect listener: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("read the listener's socket type: %w", serr)
	}
	switch typ {
	case unix.SOCK_SEQPACKET:
		return nil
	case unix.SOCK_STREAM:
		return fmt.Errorf("it is a SOCK_STREAM socket")
	case unix.SOCK_DGRAM:
		return fmt.Errorf("it is a SOCK_DGRAM socket")
	}
	return fmt.Errorf("it is a socket of type %d", typ)
}

// PeerGroups reads SO_PEERGROUPS from conn's socket: the supplementary
// groups of the process at the other end, as the kernel recorded them when
// the connection was made (Linux 4.13 and later; older kernels give
// ENOPROTOOPT).
func PeerGroups(conn syscall.Conn) ([]uint32, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("read peer groups: %w", err)
	}
	var groups []uint32
	var serr error
	if err := raw.Control(func(fd uintptr) {
		groups, serr = getPeerGroups(int(fd))
	}); err != nil {
		return nil, fmt.Errorf("read peer groups: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("read SO_PEERGROUPS: %w", serr)
	}
	return groups, nil
}

// getPeerGroups calls getsockopt(SO_PEERGROUPS), growing the buffer to
// the size the kernel asks for.
func getPeerGroups(fd int) ([]uint32, error) {
	groups := make([]uint32, 16)
	for range 4 {
		size := uint32(len(groups) * 4)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&groups[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == 0:
			return groups[:size/4], nil
		case errno == unix.ERANGE:
			groups = make([]uint32, size/4+1)
		default:
			return nil, errno
		}
	}
	return nil, unix.ERANGE
}
