package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/catalog"
)

// Defaults of a Policy.
const (
	// DefaultInitialBackoff is the wait before the second attempt.
	DefaultInitialBackoff = 10 * time.Millisecond
	// DefaultMaxBackoff caps the wait between two attempts.
	DefaultMaxBackoff = 500 * time.Millisecond
	// DefaultMultiplier grows the wait after each attempt.
	DefaultMultiplier = 2.0
	// DefaultCallTimeout bounds a call whose context has no deadline.
	DefaultCallTimeout = 5 * time.Second
)

// Policy says how a Caller retries. The zero value means the defaults.
type Policy struct {
	// InitialBackoff is the wait before the second attempt; 0 means
	// DefaultInitialBackoff.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Multiplier grows the wait after each attempt; values below 1 mean
	// DefaultMultiplier.
	Multiplier float64
	// AttemptTimeout bounds how long one attempt waits for its reply; 0
	// means until the call's context ends. Set it below the call's deadline
	// so that an idempotent call whose reply was lost is sent again.
	AttemptTimeout time.Duration
	// CallTimeout bounds a call whose context has no deadline; 0 means
	// DefaultCallTimeout.
	CallTimeout time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Multiplier < 1 {
		p.Multiplier = DefaultMultiplier
	}
	if p.CallTimeout <= 0 {
		p.CallTimeout = DefaultCallTimeout
	}
	return p
}

// backoff returns the wait after attempt n (1 for the first): the initial
// backoff times the multiplier n-1 times, capped, then a uniformly random
// point in its upper half ("equal jitter"), so that callers that failed
// together do not retry together, yet every wait grows.
func (p Policy) backoff(n int) time.Duration {
	d := float64(p.InitialBackoff)
	for i := 1; i < n && d < float64(p.MaxBackoff); i++ {
		d *= p.Multiplier
	}
	d = min(d, float64(p.MaxBackoff))
	return time.Duration(d/2 + rand.Float64()*d/2)
}

// Target is an engine to call: its name in logs and errors, and its socket.
type Target struct {
	// Name names the engine in errors and logs, e.g. "engine 1".
	Name string
	// Socket is the path of the engine's dRPC socket.
	Socket string
}

// String names the engine and its socket, e.g. "engine 1 (/run/daos_server/daos_engine1.sock)".
func (t Target) String() string { return fmt.Sprintf("%s (%s)", t.Name, t.Socket) }

// Errors a CallError wraps besides the cause, for errors.Is.
var (
	// ErrNotRetried: an attempt's request was sent but no reply came back,
	// and the method is not idempotent, so it was not sent again: the
	// engine may or may not have run it.
	ErrNotRetried = errors.New("request was sent and the method is not idempotent: not sent again, it may have run")
)

// CallError is the error of a call to an engine that did not get a reply
// of status SUCCESS. It names the engine, the method and the number of
// attempts; Err is the last attempt's error (a *drpc.Failure if the engine
// answered with another status), joined with the context's error if the
// context ended while the call was retried.
type CallError struct {
	Target   Target
	Method   drpc.Method
	Attempts int
	// Sent tells whether the last attempt's request was sent.
	Sent bool
	// NotRetried is true when the call stopped because its request was
	// sent and the method is not idempotent.
	NotRetried bool
	Err        error
}

// Error names the engine, the method and the number of attempts, then the
// cause and what it most likely means.
func (e *CallError) Error() string {
	if e.Attempts == 0 {
		return fmt.Sprintf("%s: %s (method %d): %v", e.Target, e.Method, e.Method.ID(), e.Err)
	}
	attempts := "1 attempt"
	if e.Attempts != 1 {
		attempts = fmt.Sprintf("%d attempts", e.Attempts)
	}
	msg := fmt.Sprintf("%s: %s (method %d) failed after %s: %v", e.Target, e.Method, e.Method.ID(), attempts, e.Err)
	if e.NotRetried {
		msg += ": " + ErrNotRetried.Error()
	}
	if hint := hint(e.Err); hint != "" {
		msg += ": " + hint
	}
	return msg
}

// Unwrap returns the cause and, if the call was not retried, ErrNotRetried.
func (e *CallError) Unwrap() []error {
	if e.NotRetried {
		return []error{e.Err, ErrNotRetried}
	}
	return []error{e.Err}
}

// hint says what an error most likely means for an engine.
func hint(err error) string {
	var f *drpc.Failure
	switch {
	case errors.As(err, &f):
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return "the engine's socket does not exist: is the engine running?"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens on the engine's socket: the engine has stopped (or died)"
	case errors.Is(err, context.DeadlineExceeded):
		return "the engine did not answer in time"
	}
	return ""
}

// expired reports whether ctx has ended or its deadline has passed (a
// dial's deadline may fire a little before the context's own timer).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// Caller makes calls to engines with the retries of its Policy, through a
// drpc.Pool per engine socket. It is safe for concurrent use; Close it
// when done.
type Caller struct {
	policy     Policy
	idempotent func(drpc.Method) bool
	log        *slog.Logger

	mu     sync.Mutex
	pools  map[string]*drpc.Pool // by socket path
	closed bool
}

// poolSize is the sessions a Caller keeps to one engine: the registry
// makes one call to an engine at a time but for a set rank or a prepare
// for shutdown that meets a ping.
const poolSize = 2

// CallerOptions configure NewCaller.
type CallerOptions struct {
	// Policy says how calls are retried.
	Policy Policy
	// Idempotent tells whether a method may be sent again after a lost
	// reply; nil means the catalog's word (Idempotent), and a method the
	// catalog does not know is not idempotent.
	Idempotent func(drpc.Method) bool
	// Logger receives a debug record for each failed attempt; nil discards.
	Logger *slog.Logger
}

// NewCaller returns a Caller.
func NewCaller(opts CallerOptions) *Caller {
	c := &Caller{policy: opts.Policy.withDefaults(), idempotent: opts.Idempotent, log: opts.Logger, pools: make(map[string]*drpc.Pool)}
	if c.idempotent == nil {
		c.idempotent = Idempotent
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Idempotent reports whether the schema marks m idempotent, as the
// generated catalog entries record it.
func Idempotent(m drpc.Method) bool {
	e, ok := catalog.Lookup(m.Module(), m.ID())
	return ok && e.Idempotent
}

// Policy returns the caller's policy, with its defaults filled in.
func (c *Caller) Policy() Policy { return c.policy }

// Close closes the sessions to every engine; calls in flight end, and later
// calls fail at once.
func (c *Caller) Close() error {
	c.mu.Lock()
	pools := c.pools
	c.pools, c.closed = nil, true
	c.mu.Unlock()
	var errs []error
	for _, p := range pools {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// pool returns the pool of sessions to the engine at socket, or nil once
// the Caller is closed.
func (c *Caller) pool(socket string) *drpc.Pool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	p := c.pools[socket]
	if p == nil {
		// The pool tries again, within an attempt, what never reached the
		// engine: a session the engine closed (it restarted), a socket
		// missing or refusing. The attempt's context bounds that.
		p = drpc.NewPool(socket, drpc.PoolOptions{Size: poolSize, RetryTimeout: -1})
		c.pools[socket] = p
	}
	return p
}

// Call calls method m of engine t with req and decodes the reply into reply.
// It retries as the package documentation says until ctx ends (or, without
// a deadline, for the policy's CallTimeout). The error is a *CallError.
func (c *Caller) Call(ctx context.Context, t Target, m drpc.Method, req, reply proto.Message) error {
	if _, err := proto.Marshal(req); err != nil {
		return &CallError{Target: t, Method: m, Err: fmt.Errorf("request does not encode: %w", err)}
	}
	pool := c.pool(t.Socket)
	if pool == nil {
		return &CallError{Target: t, Method: m, Err: fmt.Errorf("%w: the server's caller is closed", drpc.ErrConnectionClosed)}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.policy.CallTimeout)
		defer cancel()
	}
	// The pool resends a call whose answer was lost only if its Method
	// says it is idempotent: it is told the Caller's word.
	idempotent := c.idempotent(m)
	sent := idempotency{Method: m, idempotent: idempotent}
	for n := 1; ; n++ {
		err := c.attempt(ctx, pool, sent, req, reply)
		if err == nil {
			return nil
		}
		wasSent := !errors.Is(err, drpc.ErrNotSent)
		cerr := &CallError{Target: t, Method: m, Attempts: n, Sent: wasSent, Err: err}
		var f *drpc.Failure
		var wait time.Duration
		switch {
		case errors.As(err, &f), errors.Is(err, drpc.ErrMalformedReply):
			return cerr // the engine answered
		case expired(ctx):
			end := ctx.Err()
			if end == nil {
				end = context.DeadlineExceeded
			}
			if !errors.Is(err, end) {
				cerr.Err = fmt.Errorf("%w (last error: %w)", end, err)
			}
			return cerr
		case !wasSent && errors.Is(err, context.DeadlineExceeded):
			// The attempt's time ran out while the pool waited for the
			// engine, backing off: try again at once.
		case !wasSent:
			return cerr // a problem that waiting does not solve
		case !idempotent:
			cerr.NotRetried = true
			return cerr
		default:
			wait = c.policy.backoff(n)
		}
		c.log.Debug("engine call failed, retrying", "engine", t.Name, "socket", t.Socket, "method", m.String(),
			"attempt", n, "sent", wasSent, "wait", wait, "err", err)
		if wait <= 0 {
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			cerr.Err = fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
			return cerr
		case <-timer.C:
		}
	}
}

// attempt makes one attempt, bounded by the policy's AttemptTimeout.
func (c *Caller) attempt(ctx context.Context, pool *drpc.Pool, m drpc.Method, req, reply proto.Message) error {
	if c.policy.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.policy.AttemptTimeout)
		defer cancel()
	}
	return drpc.Invoke(ctx, pool, m, req, reply)
}

// idempotency is a Method that says whether it is idempotent as the
// Caller was told (CallerOptions.Idempotent), whatever the Method says.
type idempotency struct {
	drpc.Method
	idempotent bool
}

// Idempotent tells a drpc.Pool whether it may resend the call.
func (m idempotency) Idempotent() bool { return m.idempotent }
