package unixsock

import (
	"fmt"
	"syscall"

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
