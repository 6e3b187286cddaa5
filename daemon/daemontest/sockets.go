package daemontest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// StaleSocket leaves a SOCK_SEQPACKET socket file at path that nobody
// listens on, as a daemon that crashed leaves it: connecting to it is
// refused.
func StaleSocket(t testing.TB, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err, "listen on %s", path)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
}

// LiveSocket listens on a SOCK_SEQPACKET socket at path until the test ends
// (then the file is removed). It accepts no connection: the kernel's
// backlog answers connects, which is all a probe needs.
func LiveSocket(t testing.TB, path string) *net.UnixListener {
	t.Helper()
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err, "listen on %s", path)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// ListenerFile makes a listening socket of network ("unixpacket" for
// SOCK_SEQPACKET, "unix" for SOCK_STREAM) at path and returns it as a file,
// the way systemd hands a socket to a socket-activated service: give it to
// Start in ProcessOptions.Activate. The socket file stays when the
// descriptor is closed (it belongs to "systemd"); the descriptor is closed
// when the test ends, if the test has not closed it.
func ListenerFile(t testing.TB, network, path string) *os.File {
	t.Helper()
	ln, err := net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
	require.NoError(t, err, "listen on %s %s", network, path)
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// NotifyTimeout is how long NotifySocket.Read waits for a message before it
// fails the test.
const NotifyTimeout = 15 * time.Second

// NotifySocket stands in for systemd's notification socket: a daemon given
// NOTIFY_SOCKET=Path sends it READY=1, STOPPING=1 and STATUS= lines.
type NotifySocket struct {
	// Path is the socket's path, the value of NOTIFY_SOCKET.
	Path string
	conn *net.UnixConn
}

// ListenNotify makes a notification socket in a new SocketDir, closed when
// the test ends. Start gives it to a child with ProcessOptions.Notify;
// SetNotifySocket makes it the test process's own.
func ListenNotify(t testing.TB) *NotifySocket {
	t.Helper()
	path := filepath.Join(SocketDir(t), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err, "listen on %s", path)
	t.Cleanup(func() { _ = conn.Close() })
	return &NotifySocket{Path: path, conn: conn}
}

// SetNotifySocket makes a notification socket (ListenNotify) and points
// this process's NOTIFY_SOCKET at it until the test ends, for a daemon that
// runs in the test's own process. Like t.Setenv, it cannot be used in
// parallel tests.
func SetNotifySocket(t testing.TB) *NotifySocket {
	t.Helper()
	n := ListenNotify(t)
	t.Setenv("NOTIFY_SOCKET", n.Path)
	return n
}

// Read returns the next message, as sent (e.g. "READY=1\nSTATUS=serving").
// It fails the test if none comes within NotifyTimeout; msgAndArgs say what
// was expected.
func (n *NotifySocket) Read(t testing.TB, msgAndArgs ...any) string {
	t.Helper()
	msg, err := n.read(NotifyTimeout)
	require.NoError(t, err, msgAndArgs...)
	return msg
}

func (n *NotifySocket) read(timeout time.Duration) (string, error) {
	if err := n.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	k, err := n.conn.Read(buf)
	return string(buf[:k]), err
}
