package packetio

import (
	"net"

	"golang.org/x/sys/unix"
)

// sendBufferSize is the send buffer each connection asks the kernel for
// (which doubles it for its bookkeeping): room for a whole 1 MiB message in
// flight, so that the sender of a multi-packet message does not stop after
// every other packet to wait for the receiver to wake up. It is a limit,
// not memory taken up front; the kernel caps it at net.core.wmem_max
// (often 208 KiB, where this changes nothing).
const sendBufferSize = 1 << 20

// Tune sets the connection's send buffer, best effort.
func Tune(conn *net.UnixConn) {
	control(conn, func(fd int) {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sendBufferSize)
	})
}

// ShutdownRead ends the reading side of conn: a read waiting on it
// returns the packets already queued and then end of file, and the peer
// can no longer send (its writes fail with EPIPE), while this side can
// still write. A session stops this way so that every call the peer sent
// before is still read and answered, and no later one is lost unanswered.
func ShutdownRead(conn *net.UnixConn) {
	control(conn, func(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RD) })
}

// ShutdownBoth ends both sides of conn: a read waiting in the kernel
// returns at once.
func ShutdownBoth(conn *net.UnixConn) {
	control(conn, func(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RDWR) })
}

func control(conn *net.UnixConn, f func(fd int)) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) { f(int(fd)) })
}
