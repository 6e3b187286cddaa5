package drpc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/cc532012/drpc/drpc/internal/envelope"
	"github.com/cc532012/drpc/drpc/internal/unixsock"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// PeerCredentials identify the process at the other end of a session, as
// the kernel recorded them when it connected (SO_PEERCRED). They cannot be
// forged by the peer.
type PeerCredentials struct {
	PID int32
	UID uint32
	GID uint32
}

// Session is one client connection to a DomainSocketServer. Its calls run
// one at a time, on the session's own goroutine.
type Session struct {
	id    uint64
	conn  *net.UnixConn
	creds PeerCredentials
	srv   *DomainSocketServer

	hangup *hangupWatch // ends the call's context if the client hangs up

	mu     sync.Mutex // guards busy and closed
	busy   bool       // a call has been received and not yet answered
	closed bool
}

// ID is a number that identifies the session in the server's logs.
func (s *Session) ID() uint64 { return s.id }

// PeerCredentials returns the connected process's pid, uid and gid, read
// once when the connection was accepted.
func (s *Session) PeerCredentials() PeerCredentials { return s.creds }

// newSession returns the session of a new connection; cancel ends the
// context its calls run in.
func newSession(srv *DomainSocketServer, id uint64, conn *net.UnixConn, cancel context.CancelCauseFunc) (*Session, error) {
	c, err := unixsock.PeerCredentials(conn)
	if err != nil {
		return nil, err
	}
	return &Session{id: id, conn: conn, creds: PeerCredentials(c), srv: srv, hangup: newHangupWatch(conn, cancel)}, nil
}

// serve answers the session's calls until the client hangs up, sends
// something malformed, or the server shuts down.
func (s *Session) serve(ctx context.Context) {
	defer s.srv.endSession(s)
	defer s.hangup.cancel(nil)
	recv := wire.NewReceiver(s.conn, s.srv.opts.maxMessageSize)
	send := wire.NewSender(s.conn)
	var head []byte
	for {
		msg, err := recv.ReadMessage()
		if err != nil {
			s.logEnd(err)
			return
		}
		if !s.begin() {
			s.srv.log.Debug("dRPC call refused: the server is shutting down", "session", s.id)
			return
		}
		s.hangup.start()
		s.srv.hangups.callStarted()
		r := s.srv.dispatch(ctx, s, msg)
		s.hangup.stop()
		head = envelope.AppendResponseHead(head[:0], r.sequence, int32(r.status), len(r.body))
		if err := send.Send(head, r.body); err != nil {
			s.logEnd(err)
			return
		}
		if !s.end() {
			return
		}
	}
}

func (s *Session) logEnd(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		s.srv.log.Debug("dRPC session ended", "session", s.id)
		return
	}
	s.srv.log.Log(context.Background(), logLevelFor(err), "dRPC session closed", "session", s.id, "pid", s.creds.PID, "uid", s.creds.UID, "err", err)
}

// begin marks a call as in flight; false means the server is shutting down
// and the session must end without running it.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.busy = true
	return true
}

// end marks the call as answered; false means the session must end.
func (s *Session) end() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = false
	return !s.closed
}

// closeIfIdle closes the connection unless a call is in flight, and in
// every case makes the session end after its current call.
func (s *Session) closeIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.busy {
		_ = s.conn.Close()
	}
}

// close closes the connection now, interrupting a call in flight.
func (s *Session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	_ = s.conn.Close()
}
