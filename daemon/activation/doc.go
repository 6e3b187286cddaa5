// Package activation takes over the listening socket that systemd passes to
// a socket-activated daemon.
//
// With socket activation, systemd creates and owns the daemon's socket (a
// .socket unit with ListenSequentialPacket=), starts the daemon on the first
// connection (or at boot) and passes the listening socket as file descriptor
// 3, with LISTEN_FDS=1 and LISTEN_PID set to the daemon's pid (see
// sd_listen_fds(3)). Listener reads them through
// github.com/coreos/go-systemd/v22/activation and returns the socket as a
// *net.UnixListener, for drpc.NewDomainSocketServerFromListener.
//
// A dRPC daemon serves exactly one AF_UNIX SOCK_SEQPACKET socket, so anything
// else is refused with an error that says how to fix the unit: several
// descriptors, a stream or datagram socket, a TCP socket, a socket that does
// not listen, or a descriptor that is not a socket at all. No LISTEN_FDS (or
// a LISTEN_PID that names another process) means the daemon was not
// activated: Listener returns nil and the daemon creates its own socket.
//
// The socket file belongs to systemd: a daemon must neither unlink it at
// start nor remove it at exit (the drpc server built from the listener does
// neither).
package activation
