package drpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc532012/drpc/drpc/internal/envelope"
	"github.com/cc532012/drpc/drpc/internal/packetio"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// Sender is anything that can make a dRPC call: a *ClientConnection, or a
// wrapper around one (retries, metrics). Generated clients take a Sender.
type Sender interface {
	SendMsg(ctx context.Context, call *Call) (*Response, error)
}

// FuncSender is a Sender that can lend a response's body to a function
// instead of copying it; *ClientConnection is one. Invoke, and with it every
// generated client, uses it to decode replies straight from the receive
// buffer.
type FuncSender interface {
	Sender
	SendMsgFunc(ctx context.Context, call *Call, fn func(status Status, body []byte) error) error
}

// ClientConnection is a dRPC client for one server socket. It is safe for
// concurrent use: calls are synchronous and take turns on the connection.
type ClientConnection struct {
	path   string
	cfg    clientConfig
	invoke Sender // the interceptors around roundTrip; nil without any

	callMu sync.Mutex // one call at a time; guards head
	head   []byte     // encoded call head, reused

	stateMu sync.Mutex                 // serializes changes of cur
	cur     atomic.Pointer[clientConn] // the open connection; nil when not connected
}

// clientConn is one open connection of a ClientConnection. Only the call
// that holds callMu does I/O on it; Close may close it at any time.
type clientConn struct {
	conn     *net.UnixConn
	recv     *wire.Receiver
	send     *wire.Sender
	sequence int64       // of the last call sent on this connection
	closed   atomic.Bool // closed by ClientConnection.Close

	// Cancellation: a context's AfterFunc sets a past deadline on the
	// connection, but only while the call that installed it is running.
	watchMu   sync.Mutex
	watchID   uint64
	stopWatch func() bool
}

// NewClientConnection returns a client for the dRPC server at socketPath.
// It does not connect; call Connect.
func NewClientConnection(socketPath string, opts ...ClientOption) *ClientConnection {
	c := &ClientConnection{path: socketPath, cfg: newClientConfig(opts)}
	if len(c.cfg.interceptors) > 0 {
		c.invoke = chainSender(c.cfg.interceptors, senderFunc(c.roundTrip))
	}
	return c
}

// SocketPath returns the server socket's path.
func (c *ClientConnection) SocketPath() string { return c.path }

// IsConnected reports whether the client holds an open connection. It does
// not wait for a call in progress.
func (c *ClientConnection) IsConnected() bool { return c.cur.Load() != nil }

// Connect opens the connection, if it is not open already. Sequence numbers
// start again at 1 after every connect.
func (c *ClientConnection) Connect(ctx context.Context) error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if c.cur.Load() != nil {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixpacket", c.path)
	if err != nil {
		if ctx.Err() != nil { // the caller's context, not the server
			return fmt.Errorf("connect to dRPC server at %s: gave up when the context ended: %w", c.path, err)
		}
		return fmt.Errorf("connect to dRPC server at %s (is it running, and may this user open the socket?): %w", c.path, err)
	}
	uc := conn.(*net.UnixConn)
	packetio.Tune(uc)
	c.cur.Store(&clientConn{
		conn: uc,
		recv: wire.NewReceiver(packetio.New(uc, c.cfg.busyPoll), c.cfg.maxMessageSize),
		send: wire.NewSender(uc),
	})
	return nil
}

// Close closes the connection. A call in progress ends at once with an
// error wrapping ErrConnectionClosed. Closing a closed client does nothing;
// Connect opens a new connection.
func (c *ClientConnection) Close() error {
	c.stateMu.Lock()
	cc := c.cur.Swap(nil)
	c.stateMu.Unlock()
	if cc == nil {
		return nil
	}
	cc.closed.Store(true)
	packetio.ShutdownBoth(cc.conn) // ends a read waiting in the kernel; Close waits for it
	if err := cc.conn.Close(); err != nil {
		return fmt.Errorf("close dRPC connection to %s: %w", c.path, err)
	}
	return nil
}

// drop closes cc after a failed call, unless Close has taken it (Close
// closes it; both would make one of them fail).
func (c *ClientConnection) drop(cc *clientConn) {
	c.stateMu.Lock()
	dropped := c.cur.CompareAndSwap(cc, nil)
	c.stateMu.Unlock()
	if dropped { // else Close took it, and closes it
		_ = cc.conn.Close()
	}
}

// SendMsg sends call and waits for its response. The connection assigns the
// sequence number (call.Sequence is ignored and left unchanged) and checks
// that the response echoes it. The response and its body belong to the
// caller.
//
// An error means no valid response arrived: the call could not be sent,
// the connection broke or was closed (ErrConnectionClosed), ctx ended (the
// error wraps ctx.Err()), the response was malformed, above the size limit
// (ErrMessageTooLarge) or its sequence did not match (ErrSequenceMismatch).
// The connection is closed after any of these but the size limit, as its
// state is unknown. The error wraps ErrNotSent if the call did not reach
// the server whole (it is safe to send again), and ErrOutcomeUnknown if it
// was sent but no answer came (the server may have run it). A response
// that reports a failure is not an error here: check resp.Status, or use
// FailureFromResponse.
func (c *ClientConnection) SendMsg(ctx context.Context, call *Call) (*Response, error) {
	if call == nil {
		return nil, errors.New("dRPC SendMsg: call is nil")
	}
	return c.send(ctx, call, false)
}

// send is SendMsg. With refusals set, a server's answer that it shuts down
// is returned as errRefusedShuttingDown, as lend does.
func (c *ClientConnection) send(ctx context.Context, call *Call, refusals bool) (*Response, error) {
	var resp *Response
	var err error
	if c.invoke != nil {
		resp, err = c.invoke.SendMsg(ctx, copyCall(call))
	} else {
		resp, err = c.roundTrip(ctx, call)
	}
	if err == nil && refusals && refusedShuttingDown(resp.GetStatus(), resp.GetBody()) {
		return nil, errRefusedShuttingDown
	}
	return resp, err
}

// copyCall returns a copy of call for the interceptors, which may keep it:
// the caller's Call then never escapes, so it costs no allocation on the
// common path.
func copyCall(call *Call) *Call {
	return &Call{Module: call.Module, Method: call.Method, Sequence: call.Sequence, Body: call.Body}
}

// roundTrip makes one call and returns a response that owns its body.
func (c *ClientConnection) roundTrip(ctx context.Context, call *Call) (*Response, error) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	r, err := c.exchange(ctx, call, nil)
	if err != nil {
		return nil, err
	}
	resp := &Response{Sequence: r.Sequence, Status: Status(r.Status)}
	if len(r.Body) > 0 {
		resp.Body = bytes.Clone(r.Body) // r.Body is the receive buffer
	}
	return resp, nil
}

// SendMsgFunc makes a call like SendMsg but lends the response to fn
// instead of copying it: body is the connection's receive buffer, valid only
// until fn returns, and fn runs while the connection is held (it must not
// make a call on the same ClientConnection). fn sees every response,
// whatever its status; its error is returned as is. Use it to decode a
// reply without a copy: with no client interceptors, it allocates nothing.
func (c *ClientConnection) SendMsgFunc(ctx context.Context, call *Call, fn func(status Status, body []byte) error) error {
	if call == nil {
		return errors.New("dRPC SendMsgFunc: call is nil")
	}
	return c.lend(ctx, call, fn, false)
}

// errRefusedShuttingDown is what lend returns, for a Pool, instead of
// lending a server's refusal of a call because it shuts down: the server
// did not run the call.
var errRefusedShuttingDown = errors.New(reasonShuttingDown)

// lend is SendMsgFunc. With refusals set, a server's answer that it shuts
// down (which it sends only for a call it did not run; see dispatch) is
// returned as errRefusedShuttingDown instead of being lent to fn.
func (c *ClientConnection) lend(ctx context.Context, call *Call, fn func(status Status, body []byte) error, refusals bool) error {
	if c.invoke != nil {
		resp, err := c.invoke.SendMsg(ctx, copyCall(call))
		if err != nil {
			return err
		}
		if refusals && refusedShuttingDown(resp.GetStatus(), resp.GetBody()) {
			return errRefusedShuttingDown
		}
		return fn(resp.GetStatus(), resp.GetBody())
	}
	c.callMu.Lock()
	defer c.callMu.Unlock()
	r, err := c.exchange(ctx, call, nil)
	if err != nil {
		return err
	}
	if refusals && refusedShuttingDown(Status(r.Status), r.Body) {
		return errRefusedShuttingDown
	}
	return fn(Status(r.Status), r.Body)
}

// sendFuncTail is SendMsgFunc for a call whose body is call.Body followed
// by tail, sent from where each is (Invoke leaves a large field of a
// request out of its encoding): only without client interceptors, which
// would see call.Body alone.
func (c *ClientConnection) sendFuncTail(ctx context.Context, call *Call, tail []byte, fn func(status Status, body []byte) error) error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	r, err := c.exchange(ctx, call, tail)
	if err != nil {
		return err
	}
	return fn(Status(r.Status), r.Body)
}

// exchange sends call, whose body is followed by tail (nil but from
// sendFuncTail), and reads its response, whose body aliases the receive
// buffer until the next call. The caller holds callMu.
func (c *ClientConnection) exchange(ctx context.Context, call *Call, tail []byte) (envelope.Response, error) {
	cc := c.cur.Load()
	if cc == nil {
		return envelope.Response{}, fmt.Errorf("dRPC call to %s: %w: %w", c.path, ErrNotSent, ErrNotConnected)
	}
	if err := ctx.Err(); err != nil {
		return envelope.Response{}, fmt.Errorf("dRPC call to %s: %w: %w", c.path, ErrNotSent, err)
	}

	cc.sequence++
	seq := cc.sequence
	c.head = envelope.AppendCallHead(c.head[:0], call.Module, call.Method, seq, len(call.Body)+len(tail))

	watching := cc.watch(ctx)
	err := cc.send.SendParts(c.head, call.Body, tail)
	sent := err == nil
	var msg []byte
	if sent {
		msg, err = cc.recv.ReadMessage()
	}
	if watching {
		cc.unwatch()
	}
	if err != nil {
		var tooLarge *wire.DroppedError
		if errors.As(err, &tooLarge) {
			// The response was dropped whole: the connection is in step.
			return envelope.Response{}, fmt.Errorf("dRPC response from %s (module %d, method %d): %w: raise the client's WithMaxMessageSize", c.path, call.Module, call.Method, err)
		}
		c.drop(cc)
		return envelope.Response{}, c.callError(ctx, cc, call, sent, err)
	}

	r, err := envelope.DecodeResponse(msg)
	if err != nil {
		c.drop(cc)
		return envelope.Response{}, fmt.Errorf("dRPC response from %s (module %d, method %d) does not decode; connection closed: %w", c.path, call.Module, call.Method, err)
	}
	if r.Sequence != seq {
		c.drop(cc)
		return envelope.Response{}, fmt.Errorf("%w: sent %d, received %d from %s; connection closed", ErrSequenceMismatch, seq, r.Sequence, c.path)
	}
	return r, nil
}

// callError explains a failed send or receive: the connection was closed
// by Close, or the context ended, or the I/O failed. A call whose sending
// failed did not reach the server whole (ErrNotSent): a server runs only
// calls it has received whole. A call sent whole whose answer did not
// come may have run (ErrOutcomeUnknown).
func (c *ClientConnection) callError(ctx context.Context, cc *clientConn, call *Call, sent bool, err error) error {
	what := fmt.Sprintf("dRPC call to %s (module %d, method %d)", c.path, call.Module, call.Method)
	fate := ErrNotSent
	if sent {
		fate = ErrOutcomeUnknown
	}
	if cc.closed.Load() {
		return fmt.Errorf("%s interrupted: %w during the call: %w: %w", what, ErrConnectionClosed, fate, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("%s interrupted; connection closed: %w: %w", what, fate, cause)
	}
	return fmt.Errorf("%s failed; connection closed: %w: %w", what, fate, err)
}

// watch makes ctx's deadline and cancellation interrupt the connection's
// I/O, without a goroutine unless ctx ends. It reports whether unwatch must
// be called.
func (cc *clientConn) watch(ctx context.Context) bool {
	deadline, hasDeadline := ctx.Deadline()
	if ctx.Done() == nil && !hasDeadline {
		return false
	}
	_ = cc.conn.SetDeadline(deadline) // zero if there is none
	cc.watchMu.Lock()
	cc.watchID++
	id := cc.watchID
	cc.watchMu.Unlock()
	cc.stopWatch = context.AfterFunc(ctx, func() {
		cc.watchMu.Lock()
		defer cc.watchMu.Unlock()
		if cc.watchID == id { // the call is still running
			_ = cc.conn.SetDeadline(packetio.PastDeadline)
		}
	})
	return true
}

// unwatch ends the current call's watch and clears the deadline, so that a
// late cancellation cannot touch the next call.
func (cc *clientConn) unwatch() {
	cc.stopWatch() // releases ctx's reference to the callback
	cc.stopWatch = nil
	cc.watchMu.Lock()
	cc.watchID++
	cc.watchMu.Unlock()
	_ = cc.conn.SetDeadline(time.Time{})
}
