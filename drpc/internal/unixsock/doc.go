// Package unixsock creates and inspects the AF_UNIX SOCK_SEQPACKET sockets
// dRPC runs on: it takes a socket path over only when it is safe (free, or a
// stale socket nobody listens on), creates the socket file with exactly the
// requested mode from the first instant, removes only the file it created,
// and reads a peer's credentials with SO_PEERCRED.
package unixsock
