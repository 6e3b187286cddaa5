package drpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

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

	mu         sync.Mutex
	state      serverState
	ln         listener
	sessions   map[*Session]struct{}
	refusing   map[*net.UnixConn]struct{} // connections over the session limit being answered
	nextID     uint64
	env        *sessionEnv
	startCtx   context.Context    // Start's: when it ends the server stops at once
	cancel     context.CancelFunc // ends the handlers' context
	stopWatch  func() bool        // stops watching Start's context
	wg         sync.WaitGroup     // the accept loop, every session and refusal
	watchdog   hangupWatchdog     // watches long calls for clients that hang up
	cut        atomic.Int64       // calls whose answer a forced stop lost
	shutdownCh chan struct{}      // closed when Shutdown has finished
	shutdownEr error
}

// NewDomainSocketServer returns a server that will listen on socketPath
// once started, with the socket file's mode DefaultSocketMode (0600) unless
// WithSocketMode says otherwise. The path is checked now: an empty path is
// ErrSocketPathEmpty, one longer than the kernel allows
// ErrSocketPathTooLong, and one whose directory is missing
// ErrSocketDirNotFound.
func NewDomainSocketServer(socketPath string, opts ...ServerOption) (*DomainSocketServer, error) {
	if err := unixsock.CheckPath(socketPath); err != nil {
		return nil, fmt.Errorf("dRPC server: %w", err)
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

func addrOf(ln net.Listener) any {
	if ln == nil {
		return "nil"
	}
	return ln.Addr()
}

func newServer(path string, inherited *net.UnixListener, opts []ServerOption) *DomainSocketServer {
	return &DomainSocketServer{
		cfg:        newServerConfig(opts),
		path:       path,
		inherited:  inherited,
		sessions:   make(map[*Session]struct{}),
		refusing:   make(map[*net.UnixConn]struct{}),
		shutdownCh: make(chan struct{}),
	}
}

// SocketPath returns the path the server listens on.
func (srv *DomainSocketServer) SocketPath() string { return srv.path }

// RegisterRPCModule adds a module. Its ID must be unused (ErrDuplicateModule)
// and every method it serves must lie in its ID range (ErrInvalidModule).
// Modules can be registered before or after Start.
func (srv *DomainSocketServer) RegisterRPCModule(m Module) error {
	if err := srv.registry.register(m); err != nil {
		return fmt.Errorf("register dRPC module: %w", err)
	}
	return nil
}

// Start creates the socket and serves connections in the background. It
// refuses a path where a server listens (ErrSocketInUse) or that holds a
// file other than a socket (ErrNotSocket), and removes a stale socket.
// A server built from a listener serves that listener.
//
// When ctx ends, the server stops at once, as Shutdown with an ended
// context does; Shutdown then returns the result of that stop.
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
			return fmt.Errorf("start dRPC server: %w", err)
		}
		srv.ln = ln
	}
	srv.state = stateRunning
	srv.env = &sessionEnv{
		log:            srv.cfg.log,
		maxMessageSize: srv.cfg.maxMessageSize,
		busyPoll:       srv.cfg.busyPoll,
		disp:           newDispatcher(srv.cfg.log, &srv.registry, srv.cfg.interceptors, srv.cfg.stats),
		watchdog:       &srv.watchdog,
		ended:          srv.endSession,
		cutOff:         func() { srv.cut.Add(1) },
	}
	handlerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	srv.startCtx, srv.cancel = ctx, cancel
	srv.stopWatch = context.AfterFunc(ctx, func() {
		_ = srv.Shutdown(ctx) // ctx has ended: stop now
	})
	srv.watchdog.init(srv.checkHangups)
	srv.wg.Add(1)
	go srv.acceptLoop(handlerCtx)
	if srv.inherited != nil {
		srv.cfg.log.Info("dRPC server serving an inherited socket", "socket", srv.path)
	} else {
		srv.cfg.log.Info("dRPC server listening", "socket", srv.path, "mode", fmt.Sprintf("%#o", srv.cfg.mode))
	}
	return nil
}

// acceptLoop accepts connections until the listener is closed.
func (srv *DomainSocketServer) acceptLoop(ctx context.Context) {
	defer srv.wg.Done()
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
// the server is shutting down or full.
func (srv *DomainSocketServer) startSession(ctx context.Context, conn *net.UnixConn) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.state != stateRunning {
		_ = conn.Close()
		return
	}
	if limit := srv.cfg.maxSessions; limit > 0 && len(srv.sessions) >= limit {
		srv.refuseLocked(conn, limit)
		return
	}
	srv.nextID++
	sessionCtx, cancel := context.WithCancelCause(ctx)
	s, err := newSession(srv.env, srv.nextID, conn, cancel)
	if err != nil {
		cancel(nil)
		srv.cfg.log.Error("dRPC connection refused", "socket", srv.path, "err", err)
		_ = conn.Close()
		return
	}
	tuneConn(conn)
	srv.sessions[s] = struct{}{}
	srv.wg.Add(1)
	srv.env.disp.event(EventSessionOpened)
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

// Shutdown stops the server: it stops accepting connections and removes
// the socket file it created (never an inherited one), closes idle
// sessions, refuses calls that arrive from now on, and lets calls in
// flight finish and answer until ctx ends.
//
// It returns nil once every session has ended. If ctx (or Start's) ends
// first, it
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
	srv.stopWatch()
	_ = srv.ln.Close()
	for s := range srv.sessions {
		s.closeIfIdle()
	}
	for conn := range srv.refusing {
		_ = conn.Close()
	}
	srv.mu.Unlock()

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
	case <-srv.startCtx.Done():
		err = srv.forceStop(srv.startCtx, done) // stop at once, whoever asked
	}
	srv.cancel()
	srv.watchdog.stop()
	srv.cfg.log.Info("dRPC server stopped", "socket", srv.path)
	srv.shutdownEr = err
	close(srv.shutdownCh)
	return err
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
// hangupWatchDelay; it reports whether any call is in flight.
func (srv *DomainSocketServer) checkHangups() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	busy := false
	for s := range srv.sessions {
		if s.hangup.check() {
			busy = true
		}
	}
	return busy
}
