package mgmtsvc

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/cc532012/drpc/daemon/tlsconfig"
)

// refusalInterval is how often the same refusal (peer host and reason) is
// logged: once, then once a minute with the number of repeats.
const refusalInterval = time.Minute

// errTLSAtInsecureServer: a client started a TLS handshake with a server
// that has allow_insecure.
var errTLSAtInsecureServer = errors.New("the client speaks TLS, and this server has transport_config.allow_insecure: true: " +
	"set allow_insecure the same on both sides")

// refusals logs refused connections, once per peer host and reason a
// refusalInterval, so that a client retrying in a loop does not flood the
// log.
type refusals struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	seen map[string]*refusal
}

type refusal struct {
	logged   time.Time
	repeated int
}

// note logs a refused connection from addr, unless the same host was
// refused for the same reason less than refusalInterval ago.
func (r *refusals) note(addr net.Addr, err error, insecure bool) {
	host := ""
	if addr != nil {
		host = addr.String()
		if h, _, e := net.SplitHostPort(host); e == nil {
			host = h
		}
	}
	hint := tlsconfig.Hint(err, insecure)
	key := host + "\x00" + hint
	if hint == "" {
		key = host + "\x00" + err.Error()
	}
	now := r.now()
	r.mu.Lock()
	if r.seen == nil {
		r.seen = make(map[string]*refusal)
	}
	rf, ok := r.seen[key]
	if ok && now.Sub(rf.logged) < refusalInterval {
		rf.repeated++
		r.mu.Unlock()
		return
	}
	repeated := 0
	if ok {
		repeated = rf.repeated
	}
	r.seen[key] = &refusal{logged: now}
	if len(r.seen) > 4096 { // a scan from many addresses: forget the old ones
		for k, v := range r.seen {
			if now.Sub(v.logged) >= refusalInterval {
				delete(r.seen, k)
			}
		}
	}
	r.mu.Unlock()
	attrs := []any{"peer", addr, "err", err}
	if hint != "" {
		attrs = append(attrs, "hint", hint)
	}
	if repeated > 0 {
		attrs = append(attrs, "repeated", repeated, "since", refusalInterval)
	}
	r.log.Warn("management service refused a connection", attrs...)
}

// loggedCreds wraps the server's transport credentials to log each refused
// handshake with a hint (gRPC logs them only in its own logger). With
// insecure credentials, it peeks at the first byte of each connection and
// refuses a TLS handshake with the reason, instead of letting gRPC read it
// as a bad HTTP/2 preface.
type loggedCreds struct {
	credentials.TransportCredentials
	insecure bool
	refused  *refusals
}

// ServerHandshake runs the handshake and logs a refusal.
func (c *loggedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if c.insecure {
		br := bufio.NewReaderSize(conn, 16)
		first, err := br.Peek(1)
		if err != nil {
			return nil, nil, err // the client went away; nothing to say
		}
		if first[0] == tlsHandshakeRecord {
			c.refused.note(conn.RemoteAddr(), errTLSAtInsecureServer, true)
			refuseTLS(conn, br)
			return nil, nil, errTLSAtInsecureServer
		}
		conn = &peekedConn{Conn: conn, r: br}
	}
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.refused.note(conn.RemoteAddr(), fmt.Errorf("TLS handshake: %w", err), c.insecure)
	}
	return out, info, err
}

// Clone copies the credentials.
func (c *loggedCreds) Clone() credentials.TransportCredentials {
	return &loggedCreds{TransportCredentials: c.TransportCredentials.Clone(), insecure: c.insecure, refused: c.refused}
}

// peekedConn reads through the buffered reader that peeked at the
// connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TLS record types and the alert an insecure server answers a TLS client
// with.
const (
	tlsHandshakeRecord = 0x16
	tlsAlertRecord     = 0x15
	// tlsHandshakeFailure is the alert handshake_failure (40).
	tlsHandshakeFailure = 40
	// maxClientHello bounds what is read of a client's first TLS record.
	maxClientHello = 16 << 10
)

// refuseTLS answers a TLS client at an insecure server with a fatal
// handshake_failure alert, so that the client says "remote error: tls:
// handshake failure" rather than "connection reset", and closes the
// connection. It reads the client's first record first: closing a socket
// with unread data would reset it before the alert arrives.
func refuseTLS(conn net.Conn, br *bufio.Reader) {
	defer conn.Close()
	hdr, err := br.Peek(5)
	if err != nil {
		return
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if n > maxClientHello {
		return
	}
	if _, err := br.Discard(5 + n); err != nil {
		return
	}
	_, _ = conn.Write([]byte{tlsAlertRecord, 0x03, 0x01, 0x00, 0x02, 0x02, tlsHandshakeFailure})
}
