package drpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// PoolOptions configure a Pool. The zero value means the defaults.
type PoolOptions struct {
	// Size bounds the sessions the pool holds open at once, and so the
	// calls it makes at once: a call waits for a free session beyond it.
	// 0 means the larger of GOMAXPROCS (when NewPool runs) and 4: as many
	// calls as the process can drive at once, and a few more so that a
	// slow call does not hold up every other on a small machine.
	Size int
	// IdleTimeout closes a session that no call has used for this long.
	// 0 means one minute: below the two minutes after which a server
	// closes an idle session by default (Limits.IdleTimeout), so that
	// idle sessions end at the pool's side. A negative value keeps them.
	IdleTimeout time.Duration
	// RetryTimeout bounds how long a call keeps trying after its first
	// try has failed in a way that may pass (the server restarts, its
	// socket is missing or refuses connections); the call's context
	// bounds it too. 0 means 5 seconds; a negative value leaves only the
	// context.
	RetryTimeout time.Duration
}

// Defaults of PoolOptions, and the backoff between two tries.
const (
	minDefaultPoolSize     = 4
	defaultPoolIdleTimeout = time.Minute
	defaultRetryTimeout    = 5 * time.Second
	retryBackoffFirst      = 2 * time.Millisecond
	retryBackoffMax        = 250 * time.Millisecond
)

// Pool is a client that spreads calls over up to PoolOptions.Size sessions
// to one server socket, one call at a time on each, and replaces the
// sessions the server closes. It is a Sender and a FuncSender, like
// ClientConnection, so that generated clients and Invoke take either; it
// is safe for concurrent use.
//
// Sessions are dialled when a call needs one and none is free, and closed
// after PoolOptions.IdleTimeout unused. The client options (message size,
// busy polling, interceptors) apply to every session; an interceptor sees
// every try of a call.
//
// A call is sent again, on another session, when it is safe to:
//   - it was not sent (the session was closed by the server: it restarted,
//     shut down, or closed the session for being idle), or the server
//     refused it because it shuts down: the server did not run it;
//   - the server cannot be reached (its socket is missing or refuses
//     connections, as while it restarts): the pool tries again with a
//     growing backoff;
//   - it was sent and the session broke before its answer came, and its
//     Method is idempotent (see Method): only Invoke, and so the generated
//     clients, tell the pool the Method. A call made with SendMsg or
//     SendMsgFunc carries only IDs, which say nothing of what running it
//     twice would do, so the pool never sends it again once sent: its
//     error wraps ErrOutcomeUnknown, and the caller, who knows the method,
//     may send it again.
//
// The call's context and PoolOptions.RetryTimeout bound the tries. An
// error wraps ErrNotSent if no try may have run, and ErrOutcomeUnknown if
// one was sent and its answer lost.
type Pool struct {
	path  string
	opts  []ClientOption
	idle  time.Duration
	retry time.Duration

	size int
	done chan struct{} // closed by Close

	mu          sync.Mutex
	closed      bool
	open        int                         // sessions open or being dialled
	free        []*pooledSession            // idle, least recently used first
	all         map[*pooledSession]struct{} // every open session, idle or in use
	waiters     []chan *pooledSession       // calls waiting for a session, first first
	reaper      *time.Timer                 // closes idle sessions
	reaperArmed bool
}

// pooledSession is one session of a Pool.
type pooledSession struct {
	conn     *ClientConnection
	lastUsed time.Time // when it was last put back; guarded by Pool.mu
}

// NewPool returns a pool of sessions to the dRPC server at socketPath. It
// does not connect: the first call does. Close it when done.
func NewPool(socketPath string, po PoolOptions, opts ...ClientOption) *Pool {
	size := po.Size
	if size <= 0 {
		size = max(runtime.GOMAXPROCS(0), minDefaultPoolSize)
	}
	p := &Pool{
		path:  socketPath,
		opts:  append([]ClientOption(nil), opts...),
		idle:  po.IdleTimeout,
		retry: po.RetryTimeout,
		size:  size,
		done:  make(chan struct{}),
		all:   make(map[*pooledSession]struct{}, size),
	}
	if p.idle == 0 {
		p.idle = defaultPoolIdleTimeout
	}
	if p.retry == 0 {
		p.retry = defaultRetryTimeout
	}
	return p
}

// SocketPath returns the server socket's path.
func (p *Pool) SocketPath() string { return p.path }

// SendMsg makes a call on a free session, as ClientConnection.SendMsg
// does, and sends it again when that is safe (see Pool). The response
// and its body belong to the caller; its Sequence is the one of the
// session the call was answered on.
func (p *Pool) SendMsg(ctx context.Context, call *Call) (*Response, error) {
	if call == nil {
		return nil, errors.New("dRPC SendMsg: call is nil")
	}
	var resp *Response
	err := p.run(ctx, call, false, func(c *ClientConnection) error {
		var err error
		resp, err = c.send(ctx, call, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// SendMsgFunc makes a call on a free session and lends its response to
// fn, as ClientConnection.SendMsgFunc does (body is valid only until fn
// returns, and fn must not call through the pool), and sends it again
// when that is safe (see Pool). fn runs once, for the response that ends
// the call. With no client interceptors it allocates nothing.
func (p *Pool) SendMsgFunc(ctx context.Context, call *Call, fn func(status Status, body []byte) error) error {
	if call == nil {
		return errors.New("dRPC SendMsgFunc: call is nil")
	}
	return p.run(ctx, call, false, func(c *ClientConnection) error {
		return c.lend(ctx, call, fn, true)
	})
}

// sendMethodFunc is SendMsgFunc for Invoke, which knows the call's Method:
// a call of an idempotent method is sent again after a lost answer.
func (p *Pool) sendMethodFunc(ctx context.Context, m Method, call *Call, fn func(status Status, body []byte) error) error {
	return p.run(ctx, call, isIdempotent(m), func(c *ClientConnection) error {
		return c.lend(ctx, call, fn, true)
	})
}

// Close closes every session: the calls in flight end at once with an
// error wrapping ErrConnectionClosed, and so does every later call. It
// does not wait for the calls to return. Closing a closed pool does
// nothing.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	if p.reaper != nil {
		p.reaper.Stop()
	}
	all := p.all
	p.all, p.free = nil, nil
	p.mu.Unlock()
	var errs []error
	for s := range all {
		if err := s.conn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// What to do after a failed try.
type verdict int

const (
	giveUp     verdict = iota
	retryNow           // on another session, at once
	retryLater         // after a backoff
)

// run makes call with do on a session, and tries again while that is safe
// and the bounds allow. do must not keep the session.
func (p *Pool) run(ctx context.Context, call *Call, idempotent bool, do func(c *ClientConnection) error) error {
	var (
		mayHaveRun bool      // a try was sent and its answer lost
		giveUpAt   time.Time // set at the first failure
		prev       error     // the error of the try before
		waits      int       // backoffs so far
	)
	for try := 1; ; try++ {
		s, fresh, err := p.get(ctx)
		dialed := err != nil
		if err == nil {
			err = do(s.conn)
			if p.put(s, err) {
				// The session is still open: what failed was not the
				// session (an interceptor's error, say), so another try
				// must wait.
				fresh = true
			}
			if err == nil {
				return nil
			}
		}
		if errors.Is(err, ErrOutcomeUnknown) {
			mayHaveRun = true
		}
		if end := ended(ctx); end != nil && prev != nil {
			// The context ended a retry: a try it stopped before sending
			// says less than the one before.
			last := err
			if errors.Is(err, ErrNotSent) {
				last = prev
			}
			return p.retriesError(call, try, end, last, mayHaveRun)
		}
		if v := p.judge(ctx, err, dialed, fresh, idempotent); v == giveUp {
			return p.finalError(call, try, err, idempotent, mayHaveRun)
		} else if v == retryNow {
			prev = err
			continue
		}
		prev = err
		now := time.Now()
		if giveUpAt.IsZero() && p.retry > 0 {
			giveUpAt = now.Add(p.retry)
		}
		waits++
		wait := backoff(waits)
		if !giveUpAt.IsZero() && !now.Add(wait).Before(giveUpAt) {
			return p.retriesError(call, try, fmt.Errorf("retried for %v (PoolOptions.RetryTimeout)", p.retry), err, mayHaveRun)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return p.retriesError(call, try, ctx.Err(), err, mayHaveRun)
		case <-p.done:
			t.Stop()
			return p.retriesError(call, try, ErrConnectionClosed, err, mayHaveRun)
		}
	}
}

// judge says whether a failed try may be tried again. err came from
// getting a session (dialed) or from the call on a session that was
// reused, or that was just dialled or is still open (fresh: trying again
// at once would not help).
func (p *Pool) judge(ctx context.Context, err error, dialed, fresh, idempotent bool) verdict {
	switch {
	case ended(ctx) != nil, p.isClosed():
		return giveUp
	case dialed:
		if notThereYet(err) {
			return retryLater
		}
		return giveUp
	case errors.Is(err, errRefusedShuttingDown), errors.Is(err, ErrNotSent):
		// A session the server has closed meanwhile (it restarted, shut
		// down or found it idle): the next may be open, or a new one
		// reaches the new server. A fresh session that fails so is a
		// server that closes at once: wait.
		if fresh {
			return retryLater
		}
		return retryNow
	case errors.Is(err, ErrOutcomeUnknown) && idempotent:
		return retryLater
	}
	return giveUp
}

// ended returns ctx's error, or context.DeadlineExceeded once its deadline
// has passed: a dial's deadline fires a little before the context's timer.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// notThereYet reports whether a connect error means that the server is
// not (yet, or no longer) listening: its socket is missing, refuses, or
// its backlog is full. Such a call was not sent.
func notThereYet(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN)
}

// backoff returns the wait after try n (1 for the first): doubling from
// retryBackoffFirst up to retryBackoffMax, then a random point in its
// upper half, so that callers that failed together do not retry together.
func backoff(n int) time.Duration {
	d := retryBackoffFirst
	for i := 1; i < n && d < retryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, retryBackoffMax)
	return d/2 + rand.N(d/2+1)
}

// get returns a session for one call: an idle one (the most recently
// used) or, if there is none, a new one, once the pool has room for it;
// else it waits for a session that a call gives back, or for room. fresh
// tells a new session.
func (p *Pool) get(ctx context.Context) (s *pooledSession, fresh bool, err error) {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return nil, false, p.closedError()
	case len(p.free) > 0:
		n := len(p.free)
		s = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s, false, nil
	case p.open < p.size:
		p.open++
		p.mu.Unlock()
		return p.dial(ctx)
	}
	// A call gives back its session, or its room, to the first waiter.
	w := make(chan *pooledSession, 1)
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	select {
	case s = <-w:
		if s == nil { // room for a new session
			return p.dial(ctx)
		}
		return s, false, nil
	case <-ctx.Done():
		p.leave(w)
		return nil, false, fmt.Errorf("%w: gave up waiting for a free session when the context ended: %w", ErrNotSent, ctx.Err())
	case <-p.done:
		return nil, false, p.closedError()
	}
}

// leave takes a waiter that gave up out of the queue, and passes on what
// it was given meanwhile.
func (p *Pool) leave(w chan *pooledSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, o := range p.waiters {
		if o == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return
		}
	}
	if p.closed {
		return
	}
	// It was given a session or room (under p.mu, so it is in w).
	if s := <-w; s != nil {
		p.keepLocked(s)
	} else {
		p.open--
		p.grantLocked()
	}
}

// dial opens a new session, for which get has made room.
func (p *Pool) dial(ctx context.Context) (*pooledSession, bool, error) {
	c := NewClientConnection(p.path, p.opts...)
	if err := c.Connect(ctx); err != nil {
		p.mu.Lock()
		if !p.closed {
			p.open--
			p.grantLocked()
		}
		p.mu.Unlock()
		return nil, false, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	s := &pooledSession{conn: c}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = c.Close()
		return nil, false, p.closedError()
	}
	p.all[s] = struct{}{}
	p.armReaperLocked(p.idle)
	p.mu.Unlock()
	return s, true, nil
}

// put gives back the session of a call that ended with err: it is kept
// for the next call if it is still open, else closed. It reports whether
// it kept it.
func (p *Pool) put(s *pooledSession, err error) (kept bool) {
	keep := s.conn.IsConnected() && !errors.Is(err, errRefusedShuttingDown)
	p.mu.Lock()
	if keep && !p.closed {
		p.keepLocked(s)
		p.mu.Unlock()
		return true
	}
	delete(p.all, s)
	if !p.closed {
		p.open--
		p.grantLocked()
	}
	p.mu.Unlock()
	_ = s.conn.Close()
	return false
}

// keepLocked hands an open session to the first waiter, or keeps it idle.
// The caller holds p.mu.
func (p *Pool) keepLocked(s *pooledSession) {
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- s
		return
	}
	s.lastUsed = time.Now()
	p.free = append(p.free, s)
}

// grantLocked gives the first waiter room for a new session, if the pool
// has room. The caller holds p.mu.
func (p *Pool) grantLocked() {
	if len(p.waiters) == 0 || p.open >= p.size {
		return
	}
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.open++
	w <- nil
}

// armReaperLocked makes the reaper run after d, unless it is armed or
// idle sessions are kept. The caller holds p.mu.
func (p *Pool) armReaperLocked(d time.Duration) {
	if p.idle < 0 || p.reaperArmed || p.closed {
		return
	}
	p.reaperArmed = true
	if p.reaper == nil {
		p.reaper = time.AfterFunc(d, p.reap)
	} else {
		p.reaper.Reset(d)
	}
}

// reap closes the sessions idle for IdleTimeout, and runs again when the
// next one will have been, as long as the pool has sessions.
func (p *Pool) reap() {
	p.mu.Lock()
	p.reaperArmed = false
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	n := 0
	for n < len(p.free) && now.Sub(p.free[n].lastUsed) >= p.idle {
		n++
	}
	stale := make([]*pooledSession, n)
	copy(stale, p.free[:n])
	for _, s := range stale {
		delete(p.all, s)
	}
	p.open -= n // no call waits while sessions are idle
	kept := copy(p.free, p.free[n:])
	clear(p.free[kept:])
	p.free = p.free[:kept]
	switch {
	case len(p.free) > 0:
		p.armReaperLocked(p.free[0].lastUsed.Add(p.idle).Sub(now))
	case len(p.all) > 0:
		p.armReaperLocked(p.idle)
	}
	p.mu.Unlock()
	for _, s := range stale {
		_ = s.conn.Close()
	}
}

func (p *Pool) closedError() error {
	return fmt.Errorf("dRPC pool for %s: %w: %w", p.path, ErrConnectionClosed, ErrNotSent)
}

// finalError is the error of a call given up after try tries, the last
// of which failed with err.
func (p *Pool) finalError(call *Call, tries int, err error, idempotent, mayHaveRun bool) error {
	what := fmt.Sprintf("dRPC call to %s (module %d, method %d)", p.path, call.Module, call.Method)
	switch {
	case p.isClosed() && !errors.Is(err, ErrConnectionClosed):
		if mayHaveRun && !errors.Is(err, ErrOutcomeUnknown) {
			return fmt.Errorf("%s: %w: %w (last error: %v)", what, ErrConnectionClosed, ErrOutcomeUnknown, err)
		}
		return fmt.Errorf("%s: the pool was closed: %w: %w", what, ErrConnectionClosed, err)
	case errors.Is(err, errRefusedShuttingDown):
		return fmt.Errorf("%s: %w: %w", what, ErrNotSent, NewFailure(StatusFailure, reasonShuttingDown))
	case errors.Is(err, ErrOutcomeUnknown) && !idempotent:
		return fmt.Errorf("%w; not sent again, as the pool resends only calls of idempotent methods (see drpc.Method)", err)
	case mayHaveRun && !errors.Is(err, ErrOutcomeUnknown):
		// An earlier try may have run: the call's outcome is unknown
		// whatever the last try says.
		return fmt.Errorf("%s after %d tries: %w (last error: %v)", what, tries, ErrOutcomeUnknown, err)
	case tries > 1:
		return fmt.Errorf("%s after %d tries: %w", what, tries, err)
	}
	return err
}

// retriesError is the error of a call whose retries stopped for why (the
// context ended, the retry timeout passed, the pool was closed) after try
// tries, the last of which failed with last.
func (p *Pool) retriesError(call *Call, tries int, why, last error, mayHaveRun bool) error {
	what := fmt.Sprintf("dRPC call to %s (module %d, method %d) gave up after %d tries", p.path, call.Module, call.Method, tries)
	if errors.Is(last, errRefusedShuttingDown) {
		last = fmt.Errorf("%w: %w", ErrNotSent, NewFailure(StatusFailure, reasonShuttingDown))
	}
	if mayHaveRun && !errors.Is(last, ErrOutcomeUnknown) {
		return fmt.Errorf("%s: %w: %w (last error: %v)", what, why, ErrOutcomeUnknown, last)
	}
	return fmt.Errorf("%s: %w (last error: %w)", what, why, last)
}
