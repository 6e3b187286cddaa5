package drpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

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
	env   *sessionEnv

	hangup   *hangupWatch // ends the call's context if the client hangs up
	module   Module       // of the call in flight, for the last Handler
	replyBuf []byte       // MarshalReply's buffer, reused

	groupsOnce sync.Once // reads groups and groupsErr
	groups     []uint32
	groupsErr  error

	mu      sync.Mutex // guards busy, closing and forced
	busy    bool       // a call has been received and not yet answered
	closing bool       // the server is shutting down: end after this call
	forced  bool       // the server closed the connection without waiting
}

// sessionEnv is everything a session needs from its server.
type sessionEnv struct {
	log            *slog.Logger
	maxMessageSize int
	busyPoll       time.Duration
	disp           *dispatcher
	watchdog       *hangupWatchdog
	ended          func(*Session) // the server forgets the session
	cutOff         func()         // a call's answer was lost to a forced close
}

// ID is a number that identifies the session in the server's logs.
func (s *Session) ID() uint64 { return s.id }

// PeerCredentials returns the connected process's pid, uid and gid, read
// once when the connection was accepted.
func (s *Session) PeerCredentials() PeerCredentials { return s.creds }

// PeerGroups returns the connected process's supplementary group IDs, as
// the kernel recorded them when it connected (SO_PEERGROUPS, Linux 4.13
// and later). Like the credentials they cannot be forged by the peer, and
// cannot change during the session: they are read from the socket once,
// on the first call, and the same slice is returned after that (do not
// modify it).
func (s *Session) PeerGroups() ([]uint32, error) {
	s.groupsOnce.Do(func() {
		s.groups, s.groupsErr = unixsock.PeerGroups(s.conn)
		if s.groupsErr != nil {
			s.groupsErr = fmt.Errorf("dRPC session %d: %w", s.id, s.groupsErr)
		}
	})
	return s.groups, s.groupsErr
}

// newSession returns the session of a new connection; cancel ends the
// context its calls run in.
func newSession(env *sessionEnv, id uint64, conn *net.UnixConn, cancel context.CancelCauseFunc) (*Session, error) {
	c, err := unixsock.PeerCredentials(conn)
	if err != nil {
		return nil, err
	}
	s := &Session{id: id, conn: conn, creds: PeerCredentials(c), env: env}
	s.hangup = newHangupWatch(conn, func() {
		env.disp.event(EventHangUp)
		env.log.Info("dRPC client hung up during its call; ending the call's context",
			"session", id, "pid", c.PID, "uid", c.UID)
		cancel(errClientHungUp)
	})
	return s, nil
}

// serve answers the session's calls until the client hangs up, sends
// something malformed, or the server shuts down.
func (s *Session) serve(ctx context.Context) {
	defer s.env.ended(s)
	recv := wire.NewReceiver(newPacketReader(s.conn, s.env.busyPoll), s.env.maxMessageSize)
	send := wire.NewSender(s.conn)
	var head []byte
	var tooLarge *wire.TooLargeError
	for {
		msg, err := recv.ReadMessage()
		var r reply
		switch {
		case err == nil:
			if !s.begin() {
				r = s.env.disp.refuseShuttingDown(s, msg)
				break
			}
			s.hangup.start()
			s.env.watchdog.callStarted()
			r = s.env.disp.dispatch(ctx, s, msg)
			s.hangup.stop()
		case errors.As(err, &tooLarge):
			if !s.begin() {
				return
			}
			r = s.env.disp.refuseTooLarge(s, tooLarge)
		default:
			s.logEnd(err)
			return
		}
		head = envelope.AppendResponseHead(head[:0], r.sequence, int32(r.status), len(r.body))
		err = send.Send(head, r.body)
		s.env.disp.finished(&r)
		if err != nil {
			if s.wasForced() {
				s.env.cutOff()
			}
			s.logEnd(fmt.Errorf("send response: %w", err))
			return
		}
		if !s.end() {
			return
		}
	}
}

func (s *Session) logEnd(err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		s.env.log.Debug("dRPC session ended", "session", s.id)
		return
	}
	level := slog.LevelDebug
	if errors.Is(err, ErrMalformedPacket) {
		level = slog.LevelWarn
		s.env.disp.event(EventMalformedPacket)
	}
	s.env.log.Log(context.Background(), level, "dRPC session closed", "session", s.id, "pid", s.creds.PID, "uid", s.creds.UID, "err", err)
}

// begin marks a call as in flight; false means the server is shutting down
// and the session must end without running it.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
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
	return !s.closing
}

// closeIfIdle closes the connection unless a call is in flight, and in
// every case makes the session end after its current call.
func (s *Session) closeIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	if !s.busy {
		_ = s.conn.Close()
	}
}

// close closes the connection.
func (s *Session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	_ = s.conn.Close()
}

// forceClose closes the connection now, interrupting a call in flight,
// whose answer is then lost (and counted by cutOff).
func (s *Session) forceClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing, s.forced = true, true
	_ = s.conn.Close()
}

func (s *Session) wasForced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forced
}
