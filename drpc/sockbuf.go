package drpc

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

// tuneConn sets the connection's send buffer, best effort.
func tuneConn(conn *net.UnixConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sendBufferSize)
	})
}
