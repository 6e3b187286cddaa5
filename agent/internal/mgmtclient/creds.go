package mgmtclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
)

// verdictWait bounds how long a TLS 1.3 connection waits for the server's
// first bytes (its HTTP/2 settings, or the alert that refuses this agent's
// certificate). A server that says nothing in that time gets the
// connection anyway.
const verdictWait = 2 * time.Second

// verdictCreds are TLS credentials that, with TLS 1.3, wait for the
// server's verdict on the client's certificate before gRPC takes the
// connection: gRPC servers send their settings at once, a server that
// refuses the certificate sends an alert instead.
type verdictCreds struct {
	credentials.TransportCredentials
}

// ClientHandshake runs the TLS handshake, then waits for the server's
// first bytes.
func (c *verdictCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	ti, ok := info.(credentials.TLSInfo)
	if !ok || ti.State.Version < tls.VersionTLS13 {
		return conn, info, nil // TLS 1.2: the verdict came within the handshake
	}
	deadline := time.Now().Add(verdictWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return conn, info, nil
	}
	br := bufio.NewReader(conn)
	_, perr := br.Peek(1)
	_ = conn.SetReadDeadline(time.Time{})
	var ne net.Error
	switch {
	case perr == nil, errors.As(perr, &ne) && ne.Timeout():
		return &peekedConn{Conn: conn, r: br}, info, nil
	default:
		_ = conn.Close()
		return nil, nil, fmt.Errorf("the server closed the connection after the TLS handshake: %w", perr)
	}
}

// Clone copies the credentials.
func (c *verdictCreds) Clone() credentials.TransportCredentials {
	return &verdictCreds{TransportCredentials: c.TransportCredentials.Clone()}
}

// peekedConn reads through the buffered reader that peeked.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// SyscallConn gives gRPC the socket underneath, for its TCP options, when
// the wrapped connection has one.
func (c *peekedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("the connection has no socket")
	}
	return sc.SyscallConn()
}
