package drpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc532012/drpc/drpc/internal/envelope"
	"github.com/cc532012/drpc/drpc/internal/hangup"
	"github.com/cc532012/drpc/drpc/internal/packetio"
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

	hangup   *hangup.Watch // ends the call's context if the client hangs up
	account  *uidAccount   // the receive memory of the peer's uid
	module   Module        // of the call in flight, for the last Handler
	replyBuf []byte        // MarshalReply's buffer, reused
	lent     lentReply     // what ReplyBody left out of the reply in flight

	groupsOnce sync.Once // reads groups and groupsErr
	groups     []uint32
	groupsErr  error

	active  atomic.Uint32 // the idle sweep's epoch when the session last answered
	partial atomic.Bool   // a message of several packets is arriving

	mu          sync.Mutex // guards busy, stopping, readStopped and forced
	busy        bool       // a call has been received and not yet answered
	stopping    stopKind   // why the session is to end, if it is
	readStopped bool       // the connection's reading side is shut down
	forced      bool       // the server closed the connection without waiting
}

// stopKind says why a session ends once the calls it has received are
// answered.
type stopKind int

const (
	running      stopKind = iota
	stopIdle              // idle too long: calls already sent are answered
	stopShutdown          // the server shuts down: calls not yet run are refused
)

// sessionEnv is everything a session needs from its server.
type sessionEnv struct {
	log            *slog.Logger
	peers          *peerLog
	maxMessageSize int
	messageTimeout time.Duration
	busyPoll       time.Duration
	disp           *dispatcher
	watchdog       *hangup.Watchdog
	epoch          *atomic.Uint32 // the idle sweep's
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

// newSession returns the session of a new connection from the process
// creds names; cancel ends the context its calls run in.
func newSession(env *sessionEnv, id uint64, conn *net.UnixConn, creds PeerCredentials, account *uidAccount, cancel context.CancelCauseFunc) *Session {
	s := &Session{id: id, conn: conn, creds: creds, env: env, account: account}
	s.active.Store(env.epoch.Load())
	s.hangup = hangup.NewWatch(conn, func() {
		env.disp.event(EventHangUp)
		env.log.Info("dRPC client hung up during its call; ending the call's context",
			"session", id, "pid", creds.PID, "uid", creds.UID)
		cancel(hangup.ErrClientHungUp)
	})
	return s
}

// serve answers the session's calls until the client hangs up, sends
// something malformed, or the session is stopped and has answered every
// call it had received.
func (s *Session) serve(ctx context.Context) {
	defer s.env.ended(s)
	recv := wire.NewReceiver(packetio.New(s.conn, s.env.busyPoll), s.env.maxMessageSize)
	recv.Allowance = s.account
	if s.env.messageTimeout > 0 {
		recv.Partial = s.partialMessage
	}
	defer recv.Release()
	send := wire.NewSender(s.conn)
	var head []byte
	var dropped *wire.DroppedError
	for {
		msg, err := recv.ReadMessage()
		var r reply
		switch {
		case err == nil:
			if !s.begin() {
				r = s.env.disp.refuseShuttingDown(s, msg)
				break
			}
			s.hangup.Start()
			s.env.watchdog.CallStarted()
			r = s.env.disp.dispatch(ctx, s, msg)
			s.hangup.Stop()
		case errors.As(err, &dropped):
			s.begin()
			r = s.env.disp.refuseDropped(s, dropped)
		default:
			s.logEnd(err)
			return
		}
		head = envelope.AppendResponseHead(head[:0], r.sequence, int32(r.status), len(r.body)+len(r.tail))
		err = send.SendParts(head, r.body, r.tail)
		s.env.disp.finished(&r)
		if err != nil {
			if s.wasForced() {
				s.env.cutOff()
			}
			s.logEnd(fmt.Errorf("send response: %w", err))
			return
		}
		s.end()
	}
}

// partialMessage bounds the time the rest of a message may take once its
// first packet has arrived (Limits.MessageTimeout).
func (s *Session) partialMessage(inProgress bool) {
	s.partial.Store(inProgress)
	if inProgress {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.env.messageTimeout))
	} else {
		_ = s.conn.SetReadDeadline(time.Time{})
	}
}

func (s *Session) logEnd(err error) {
	c := s.creds
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		s.env.log.Debug("dRPC session ended", "session", s.id)
	case errors.Is(err, os.ErrDeadlineExceeded): // only a message's packets have a deadline
		s.env.disp.event(EventMessageTimeout)
		s.env.peers.write(slog.LevelWarn, c.UID, "message timeout", "dRPC session closed: the rest of a message did not arrive in time",
			"session", s.id, "pid", c.PID, "uid", c.UID, "timeout", s.env.messageTimeout.String())
	case errors.Is(err, ErrMalformedPacket):
		s.env.disp.event(EventMalformedPacket)
		s.env.peers.write(slog.LevelWarn, c.UID, "malformed packet", "dRPC session closed: malformed packet",
			"session", s.id, "pid", c.PID, "uid", c.UID, "err", err)
	default:
		s.env.log.Debug("dRPC session closed", "session", s.id, "pid", c.PID, "uid", c.UID, "err", err)
	}
}

// begin marks a call as in flight; false means the server is shutting
// down and the call must be refused.
func (s *Session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = true
	return s.stopping != stopShutdown
}

// end marks the call as answered. A session that is to stop then shuts
// its reading side down: it reads and answers what the client sent before
// (refusing it if the server shuts down), then the end of the connection.
func (s *Session) end() {
	s.active.Store(s.env.epoch.Load())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = false
	if s.stopping != running {
		s.stopReadingLocked()
	}
}

// stop makes the session end once it has answered the calls it has
// received: at once if it is idle, else after its call in flight. An idle
// stop applies only to a session that is idle: it reports whether it
// did.
func (s *Session) stop(why stopKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if why == stopIdle && (s.busy || s.stopping != running || s.partial.Load()) {
		return false
	}
	s.stopping = max(s.stopping, why)
	if !s.busy {
		s.stopReadingLocked()
	}
	return true
}

func (s *Session) stopReadingLocked() {
	if !s.readStopped {
		s.readStopped = true
		packetio.ShutdownRead(s.conn)
	}
}

// idleFor returns how many sweeps of the idle sweep the session has been
// idle for.
func (s *Session) idleFor(epoch uint32) uint32 { return epoch - s.active.Load() }

// close closes the connection.
func (s *Session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = stopShutdown
	_ = s.conn.Close()
}

// forceClose closes the connection now, interrupting a call in flight,
// whose answer is then lost (and counted by cutOff).
func (s *Session) forceClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping, s.forced = stopShutdown, true
	_ = s.conn.Close()
}

func (s *Session) wasForced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forced
}
