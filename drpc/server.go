package drpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cc532012/drpc/drpc/internal/unixsock"
)

type serverState int

const (
	stateNew serverState = iota
	stateRunning
	stateClosed
)

// DomainSocketServer is a dRPC server on one Unix domain socket. It runs one
// goroutine per client connection (Session) and routes each call to the
// Module registered under the call's module ID.
type DomainSocketServer struct {
	log      *slog.Logger
	path     string
	mode     os.FileMode
	opts     options
	registry registry

	mu         sync.Mutex
	state      serverState
	ln         *unixsock.Listener
	sessions   map[*Session]struct{}
	nextID     uint64
	cancel     context.CancelFunc // ends the handlers' context
	stopWatch  func() bool        // stops watching Start's context
	wg         sync.WaitGroup     // the accept loop and every session
	hangups    hangupWatchdog     // watches long calls for clients that hang up
	shutdownCh chan struct{}      // closed when Shutdown has finished
	shutdownEr error
}

// NewDomainSocketServer returns a server that will listen on socketPath with
// file permissions mode (0600: only the server's user; 0666: every local
// user) once started. log may be nil to discard logs.
func NewDomainSocketServer(log *slog.Logger, socketPath string, mode os.FileMode, opts ...Option) (*DomainSocketServer, error) {
	if socketPath == "" {
		return nil, fmt.Errorf("%w: the socket path is empty", ErrSocketDirNotFound)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DomainSocketServer{
		log:        log,
		path:       socketPath,
		mode:       mode.Perm(),
		opts:       newOptions(opts),
		sessions:   make(map[*Session]struct{}),
		shutdownCh: make(chan struct{}),
	}, nil
}

// GetSocketPath returns the path the server listens on.
func (srv *DomainSocketServer) GetSocketPath() string { return srv.path }

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
// When ctx ends the server stops at once, as Shutdown with an ended context.
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
	ln, err := unixsock.Listen(srv.path, srv.mode)
	if err != nil {
		return fmt.Errorf("start dRPC server: %w", err)
	}
	srv.ln = ln
	srv.state = stateRunning
	handlerCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	srv.cancel = cancel
	srv.stopWatch = context.AfterFunc(ctx, func() {
		_ = srv.Shutdown(ctx) // ctx has ended: stop now
	})
	srv.hangups.init(srv.checkHangups)
	srv.wg.Add(1)
	go srv.acceptLoop(handlerCtx)
	srv.log.Info("dRPC server listening", "socket", srv.path, "mode", fmt.Sprintf("%#o", srv.mode))
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
			srv.log.Error("dRPC accept failed; retrying", "socket", srv.path, "err", err, "retry_in", backoff)
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
	if max := srv.opts.maxSessions; max > 0 && len(srv.sessions) >= max {
		srv.log.Warn("dRPC connection refused: session limit reached", "socket", srv.path, "limit", max)
		_ = conn.Close()
		return
	}
	srv.nextID++
	sessionCtx, cancel := context.WithCancelCause(ctx)
	s, err := newSession(srv, srv.nextID, conn, cancel)
	if err != nil {
		cancel(nil)
		srv.log.Error("dRPC connection refused", "socket", srv.path, "err", err)
		_ = conn.Close()
		return
	}
	srv.sessions[s] = struct{}{}
	srv.wg.Add(1)
	go s.serve(sessionCtx)
}

// endSession closes a session's connection and forgets it.
func (srv *DomainSocketServer) endSession(s *Session) {
	s.close()
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
	srv.wg.Done()
}

// GetNumSessions returns the number of open client connections.
func (srv *DomainSocketServer) GetNumSessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Shutdown stops the server: it removes the socket file it created and stops
// accepting connections, closes idle sessions, lets calls in flight finish
// and answer until ctx ends, then closes every remaining session and ends
// the handlers' context. It returns ctx's error if calls were cut off.
// Calling it again, or concurrently, waits for the first call and returns
// its result.
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
		select {
		case <-done: // finished just in time
		default:
			err = srv.forceClose(ctx)
		}
	}
	srv.cancel()
	srv.hangups.stop()
	srv.log.Info("dRPC server stopped", "socket", srv.path)
	srv.shutdownEr = err
	close(srv.shutdownCh)
	return err
}

// forceClose closes every remaining session, interrupting calls in flight.
func (srv *DomainSocketServer) forceClose(ctx context.Context) error {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for s := range srv.sessions {
		s.close()
	}
	return fmt.Errorf("dRPC server on %s: %d session(s) closed before their calls finished: %w", srv.path, len(srv.sessions), ctx.Err())
}

// checkHangups starts the hang-up watch of every call that has run for
// hangupWatchDelay; it reports whether any call is in flight.
func (srv *DomainSocketServer) checkHangups(now time.Time) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	busy := false
	for s := range srv.sessions {
		if s.hangup.check(now) {
			busy = true
		}
	}
	return busy
}
