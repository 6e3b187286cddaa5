package drpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/hangup"
	"github.com/cc532012/drpc/drpc/internal/packetio"
	"github.com/cc532012/drpc/drpc/internal/unixsock"
)

type serverState int

const (
	stateNew serverState = iota
	stateRunning
	stateClosed
)

// forcedShutdownGrace is how long a Shutdown whose context has ended waits
// for handlers to return once their context is ended too.
const forcedShutdownGrace = time.Second

// listener is what a server accepts connections from: a socket it created
// (which Close removes) or an inherited one (which Close leaves alone).
type listener interface {
	AcceptUnix() (*net.UnixConn, error)
	SyscallConn() (syscall.RawConn, error)
	Close() error
}

// DomainSocketServer is a dRPC server on one Unix domain socket. It runs one
// goroutine per client connection (Session) and routes each call to the
// Module registered under the call's module ID.
type DomainSocketServer struct {
	cfg       serverConfig
	path      string
	inherited *net.UnixListener // the listener it was built from, if any
	registry  registry
	peers     *peerLog
	budget    *memoryBudget

	mu         sync.Mutex
	state      serverState
	ln         listener
	sessions   map[*Session]struct{}
	counts     sessionCounts
	refusing   int // connections over the session limits being answered
	nextID     uint64
	env        *sessionEnv
	cancel     context.CancelFunc // ends the handlers' context
	wg         sync.WaitGroup     // the accept loop, every session and refusal
	acceptDone chan struct{}      // closed when the accept loop has returned
	watchdog   hangup.Watchdog    // watches long calls for clients that hang up
	epoch      atomic.Uint32      // the idle sweep's count
	stopSweep  chan struct{}      // closed to stop the idle sweep
	cut        atomic.Int64       // calls whose answer a forced stop lost
	shutdownCh chan struct{}      // closed when Shutdown has finished
	shutdownEr error
}

// NewDomainSocketServer returns a server that will listen on socketPath
// once started, with the socket file's mode 0600 unless WithSocketMode says
// otherwise. The path is checked now: an empty path, one longer than the
// kernel allows and one whose directory is missing are ErrBadSocketPath.
func NewDomainSocketServer(socketPath string, opts ...ServerOption) (*DomainSocketServer, error) {
	if err := unixsock.CheckPath(socketPath); err != nil {
		return nil, fmt.Errorf("dRPC server: %w", socketPathError(err))
	}
	return newServer(socketPath, nil, opts), nil
}

// NewDomainSocketServerFromListener returns a server that will serve the
// connections of ln, an AF_UNIX SOCK_SEQPACKET listener that someone else
// created: systemd (socket activation) or a test. The server never removes
// or changes the socket file, which belongs to whoever created it, and
// WithSocketMode does not apply. A listener of another kind is refused with
// ErrWrongSocketType.
func NewDomainSocketServerFromListener(ln net.Listener, opts ...ServerOption) (*DomainSocketServer, error) {
	ul, ok := ln.(*net.UnixListener)
	if !ok || ul == nil {
		return nil, fmt.Errorf("dRPC server: %w: got %T on %v", ErrWrongSocketType, ln, addrOf(ln))
	}
	if err := unixsock.CheckSeqpacket(ul); err != nil {
		return nil, fmt.Errorf("dRPC server on %s: %w: %w", ul.Addr(), ErrWrongSocketType, err)
	}
	ul.SetUnlinkOnClose(false)
	return newServer(ul.Addr().String(), ul, opts), nil
}

// socketPathError marks the path errors of package unixsock with
// ErrBadSocketPath.
func socketPathError(err error) error {
	if errors.Is(err, unixsock.ErrPathEmpty) || errors.Is(err, unixsock.ErrPathTooLong) || errors.Is(err, unixsock.ErrDirNotFound) {
		return fmt.Errorf("%w: %w", ErrBadSocketPath, err)
	}
	return err
}

func addrOf(ln net.Listener) any {
	if ln == nil {
		return "nil"
	}
	return ln.Addr()
}

func newServer(path string, inherited *net.UnixListener, opts []ServerOption) *DomainSocketServer {
	cfg := newServerConfig(opts)
	return &DomainSocketServer{
		cfg:        cfg,
		path:       path,
		inherited:  inherited,
		peers:      newPeerLog(cfg.log),
		budget:     newMemoryBudget(cfg.limits),
		sessions:   make(map[*Session]struct{}),
		shutdownCh: make(chan struct{}),
	}
}

// SocketPath returns the path the server listens on.
func (srv *DomainSocketServer) SocketPath() string { return srv.path }

// RegisterRPCModule adds a module. Its ID must be unused, and every method
// it serves must lie in its ID range (ErrInvalidModule otherwise).
// Modules can be registered before or after Start.
func (srv *DomainSocketServer) RegisterRPCModule(m Module) error {
	if err := srv.registry.register(m); err != nil {
		return fmt.Errorf("register dRPC module: %w", err)
	}
	return nil
}

// Start creates the socket and serves connections in the background until
// Shutdown. It refuses a path where a server listens (ErrSocketInUse) or
// that holds a file other than a socket (ErrNotSocket), and removes a stale
// socket; a server built from a listener serves that listener. When it
// returns nil, the socket accepts connections.
//
// ctx bounds the start only: it is checked before the socket is created,
// and its values are those the handlers' contexts carry; its end does not
// stop the server. Serve is the form whose context is the server's
// lifetime.
func (srv *DomainSocketServer) Start(ctx context.Context) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch srv.state {
	case stateRunning:
		return fmt.Errorf("start dRPC server on %s: %w", srv.path, ErrServerStarted)
	case stateClosed:
		return fmt.Errorf("start dRPC server on %s: %w: create a new server", srv.path, ErrServerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start dRPC server on %s: %w", srv.path, err)
	}
	if srv.inherited != nil {
		srv.ln = srv.inherited
	} else {
		ln, err := unixsock.Listen(srv.path, srv.cfg.mode)
		if err != nil {
			return fmt.Errorf("start dRPC server: %w", socketPathError(err))
		}
		srv.ln = ln
	}
	srv.state = stateRunning
	srv.env = &sessionEnv{
		log:            srv.cfg.log,
		peers:          srv.peers,
		maxMessageSize: srv.cfg.maxMessageSize,
		messageTimeout: max(srv.cfg.limits.MessageTimeout, 0),
		busyPoll:       srv.cfg.busyPoll,
		disp:           newDispatcher(srv.cfg.log, srv.peers, &srv.registry, srv.cfg.interceptors, srv.cfg.stats),
		watchdog:       &srv.watchdog,
		epoch:          &srv.epoch,
		ended:          srv.endSession,
		cutOff:         func() { srv.cut.Add(1) },
	}
	handlerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	srv.cancel = cancel
	srv.watchdog.Init(srv.checkHangups)
	srv.acceptDone = make(chan struct{})
	srv.wg.Add(1)
	go srv.acceptLoop(handlerCtx)
	if t := srv.cfg.limits.IdleTimeout; t > 0 {
		srv.stopSweep = make(chan struct{})
		go srv.sweepIdle(t)
	}
	l := srv.cfg.limits
	attrs := []any{"socket", srv.path, "max_sessions", l.MaxSessions, "max_sessions_per_uid", l.MaxSessionsPerUID,
		"idle_timeout", l.IdleTimeout.String(), "message_timeout", l.MessageTimeout.String(),
		"max_receive_memory", l.MaxReceiveMemory, "max_receive_memory_per_uid", l.MaxReceiveMemoryPerUID}
	if srv.inherited != nil {
		srv.cfg.log.Info("dRPC server serving an inherited socket", attrs...)
	} else {
		srv.cfg.log.Info("dRPC server listening", append(attrs, "mode", fmt.Sprintf("%#o", srv.cfg.mode))...)
	}
	return nil
}

// Serve starts the server, as Start does (on a server Start has started it
// only waits), and serves until ctx ends or Shutdown is called. When ctx ends, the server stops at once, as Shutdown
// with an ended context does: calls not yet run are refused, calls in
// flight are cut off, and Serve returns the result of that stop (nil if no
// call was cut off). After a Shutdown called elsewhere it returns
// ErrServerClosed, as net/http's Serve does; Shutdown returns the
// result of the stop.
func (srv *DomainSocketServer) Serve(ctx context.Context) error {
	if err := srv.Start(ctx); err != nil && !errors.Is(err, ErrServerStarted) {
		return err
	}
	select {
	case <-ctx.Done():
		return srv.Shutdown(ctx)
	case <-srv.shutdownCh:
		return fmt.Errorf("dRPC server on %s: %w", srv.path, ErrServerClosed)
	}
}

// acceptLoop accepts connections until the listener is closed.
func (srv *DomainSocketServer) acceptLoop(ctx context.Context) {
	defer srv.wg.Done()
	defer close(srv.acceptDone)
	var backoff time.Duration
	for {
		conn, err := srv.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or memory: wait and try again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.cfg.log.Error("dRPC accept failed; retrying", "socket", srv.path, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		srv.startSession(ctx, conn)
	}
}

// startSession registers a new connection and starts its goroutine, unless
// the server is full for it. A connection accepted while the server shuts
// down gets a session that refuses the calls it sent.
func (srv *DomainSocketServer) startSession(ctx context.Context, conn *net.UnixConn) {
	c, err := unixsock.PeerCredentials(conn)
	if err != nil {
		srv.cfg.log.Error("dRPC connection refused", "socket", srv.path, "err", err)
		_ = conn.Close()
		return
	}
	creds := PeerCredentials(c)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.state == stateRunning {
		if why := srv.counts.refusal(srv.cfg.limits, creds.UID); why != "" {
			srv.refuseLocked(conn, creds, why)
			return
		}
	}
	srv.nextID++
	sessionCtx, cancel := context.WithCancelCause(ctx)
	s := newSession(srv.env, srv.nextID, conn, creds, srv.budget.account(creds.UID), cancel)
	packetio.Tune(conn)
	srv.sessions[s] = struct{}{}
	srv.counts.add(creds.UID, 1)
	srv.wg.Add(1)
	srv.env.disp.event(EventSessionOpened)
	if srv.state != stateRunning {
		s.stop(stopShutdown)
	}
	go func() {
		defer cancel(nil)
		s.serve(sessionCtx)
	}()
}

// endSession closes a session's connection and forgets it.
func (srv *DomainSocketServer) endSession(s *Session) {
	s.close()
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.counts.add(s.creds.UID, -1)
	srv.mu.Unlock()
	srv.env.disp.event(EventSessionClosed)
	srv.wg.Done()
}

// NumSessions returns the number of open client connections.
func (srv *DomainSocketServer) NumSessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// sweepIdle stops the sessions that have waited for a call for the idle
// timeout, looking every quarter of it: a session is stopped once it has
// been idle for four to five looks. A session records the count of looks
// when it answers, so a call costs no clock read or timer.
func (srv *DomainSocketServer) sweepIdle(timeout time.Duration) {
	tick := time.NewTicker(max(timeout/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-srv.stopSweep:
			return
		case <-tick.C:
		}
		epoch := srv.epoch.Add(1)
		srv.mu.Lock()
		for s := range srv.sessions {
			if s.idleFor(epoch) > 4 && s.stop(stopIdle) {
				srv.env.disp.event(EventIdleTimeout)
				srv.cfg.log.Debug("dRPC session idle too long; closing it", "session", s.id, "uid", s.creds.UID, "idle_timeout", timeout.String())
			}
		}
		srv.mu.Unlock()
	}
}

// Shutdown stops the server: it stops taking connections (new ones are
// refused by the kernel, and the socket file it created is removed, never
// an inherited one's), and every session answers what its client has
// sent: calls that have not started are refused with STATUS_FAILURE and
// the reason, calls in flight finish and answer until ctx ends. Idle
// sessions end at once; a client that sends after that sees its call not
// sent (EPIPE), never a call lost without an answer.
//
// It returns nil once every session has ended. If ctx ends first, it
// closes the remaining sessions, ends the handlers' context, waits (up to
// a second) for the handlers to return, and returns an error wrapping
// ErrShutdownInterrupted and ctx's error that counts the calls cut off,
// and says so if some handlers have not returned. Calling it again, or
// concurrently, waits for the first call and returns its result.
func (srv *DomainSocketServer) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	switch srv.state {
	case stateNew:
		srv.state = stateClosed
		close(srv.shutdownCh)
		srv.mu.Unlock()
		return nil
	case stateClosed:
		srv.mu.Unlock()
		<-srv.shutdownCh
		return srv.shutdownEr
	}
	srv.state = stateClosed
	if srv.stopSweep != nil {
		close(srv.stopSweep)
	}
	srv.stopListening()
	for s := range srv.sessions {
		s.stop(stopShutdown)
	}
	srv.mu.Unlock()

	// Connections the kernel queued before the listener stopped get
	// sessions that refuse their calls; then the accept loop ends.
	srv.acceptQueued()
	_ = srv.ln.Close()
	<-srv.acceptDone

	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = srv.forceStop(ctx, done)
	}
	srv.cancel()
	srv.watchdog.Stop()
	srv.peers.flush()
	srv.cfg.log.Info("dRPC server stopped", "socket", srv.path)
	srv.shutdownEr = err
	close(srv.shutdownCh)
	return err
}

// stopListening makes the kernel refuse new connections to a socket the
// server created (shutting down its reading side keeps the connections
// already queued), and removes its file. An inherited socket is left as
// it is: it belongs to whoever passed it (systemd keeps it, and the
// connections queued on it, for the next start). The caller holds srv.mu.
func (srv *DomainSocketServer) stopListening() {
	own, ok := srv.ln.(*unixsock.Listener)
	if !ok {
		return
	}
	if raw, err := own.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) })
	}
	own.Remove()
}

// acceptQueued accepts, without waiting, the connections queued on a
// socket the server created, whose reading side stopListening has shut
// down, and gives them sessions (which refuse their calls).
func (srv *DomainSocketServer) acceptQueued() {
	if _, ok := srv.ln.(*unixsock.Listener); !ok {
		return
	}
	raw, err := srv.ln.SyscallConn()
	if err != nil {
		return
	}
	var fds []int
	_ = raw.Control(func(fd uintptr) {
		for {
			nfd, _, err := unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			fds = append(fds, nfd)
		}
	})
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), srv.path)
		c, err := net.FileConn(f)
		_ = f.Close()
		if uc, ok := c.(*net.UnixConn); ok && err == nil {
			srv.startSession(context.Background(), uc)
		} else if c != nil {
			_ = c.Close()
		}
	}
}

// forceStop ends the sessions still running when Shutdown's context has
// ended: it closes their connections, interrupting the calls in flight,
// ends the handlers' context and waits for them for a while. It returns
// nil if no call lost its answer.
func (srv *DomainSocketServer) forceStop(ctx context.Context, done <-chan struct{}) error {
	srv.mu.Lock()
	for s := range srv.sessions {
		s.forceClose()
	}
	srv.mu.Unlock()
	srv.cancel()
	select {
	case <-done:
		if cut := srv.cut.Load(); cut > 0 {
			return fmt.Errorf("dRPC server on %s: %w: %d call(s) cut off: %w", srv.path, ErrShutdownInterrupted, cut, ctx.Err())
		}
		return nil
	case <-time.After(forcedShutdownGrace):
		srv.mu.Lock()
		running := len(srv.sessions)
		srv.mu.Unlock()
		return fmt.Errorf("dRPC server on %s: %w: %d call(s) cut off, and %d handler(s) still running %v after their context ended (they do not watch it): %w",
			srv.path, ErrShutdownInterrupted, srv.cut.Load()+int64(running), running, forcedShutdownGrace, ctx.Err())
	}
}

// checkHangups starts the hang-up watch of every call that has run for
// hangup.WatchDelay; it reports whether any call is in flight.
func (srv *DomainSocketServer) checkHangups() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	busy := false
	for s := range srv.sessions {
		if s.hangup.Check() {
			busy = true
		}
	}
	return busy
}
