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
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// Sender is anything that can make a dRPC call: a *ClientConnection, or a
// wrapper around one (retries, metrics). Generated clients take a Sender.
type Sender interface {
	SendMsg(ctx context.Context, call *Call) (*Response, error)
}

// ClientConnection is a dRPC client for one server socket. It is safe for
// concurrent use: calls are synchronous and take turns on the connection.
type ClientConnection struct {
	path string
	opts options

	connected atomic.Bool // mirrors conn != nil, readable without mu

	mu       sync.Mutex // serializes calls and guards everything below
	conn     *net.UnixConn
	recv     *wire.Receiver
	send     *wire.Sender
	head     []byte // encoded call head, reused
	sequence int64  // of the last call sent on this connection

	// Cancellation: a context's AfterFunc sets a past deadline on the
	// connection, but only while the call that installed it is running.
	watchMu   sync.Mutex
	watchID   uint64
	stopWatch func() bool
}

// NewClientConnection returns a client for the dRPC server at socketPath.
// It does not connect; call Connect.
func NewClientConnection(socketPath string, opts ...Option) *ClientConnection {
	return &ClientConnection{path: socketPath, opts: newOptions(opts)}
}

// GetSocketPath returns the server socket's path.
func (c *ClientConnection) GetSocketPath() string { return c.path }

// IsConnected reports whether the client holds an open connection. It does
// not wait for a call in progress.
func (c *ClientConnection) IsConnected() bool { return c.connected.Load() }

// Connect opens the connection, if it is not open already. Sequence numbers
// start again at 1 after every connect.
func (c *ClientConnection) Connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixpacket", c.path)
	if err != nil {
		return fmt.Errorf("connect to dRPC server at %s (is it running, and may this user open the socket?): %w", c.path, err)
	}
	c.conn = conn.(*net.UnixConn)
	c.recv = wire.NewReceiver(c.conn, c.opts.maxMessageSize)
	c.send = wire.NewSender(c.conn)
	c.sequence = 0
	c.connected.Store(true)
	return nil
}

// Close closes the connection. Closing a closed client does nothing.
func (c *ClientConnection) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *ClientConnection) closeLocked() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.recv, c.send = nil, nil, nil
	c.connected.Store(false)
	if err != nil {
		return fmt.Errorf("close dRPC connection to %s: %w", c.path, err)
	}
	return nil
}

// SendMsg sends call and waits for its response. The connection assigns the
// sequence number (call.Sequence is ignored and left unchanged) and checks
// that the response echoes it.
//
// An error means no valid response arrived: the call could not be sent,
// the connection broke, ctx ended (the error wraps ctx.Err()), the response
// was malformed, or its sequence did not match (ErrSequenceMismatch). The
// connection is closed after any of these, as its state is unknown. A
// response that reports a failure is not an error here: check resp.Status,
// or use FailureFromResponse.
func (c *ClientConnection) SendMsg(ctx context.Context, call *Call) (*Response, error) {
	if call == nil {
		return nil, errors.New("dRPC SendMsg: call is nil")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil, fmt.Errorf("dRPC call to %s: %w", c.path, ErrNotConnected)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dRPC call to %s not sent: %w", c.path, err)
	}

	c.sequence++
	seq := c.sequence
	c.head = envelope.AppendCallHead(c.head[:0], call.Module, call.Method, seq, len(call.Body))

	watching := c.watch(ctx)
	err := c.send.Send(c.head, call.Body)
	var msg []byte
	if err == nil {
		msg, err = c.recv.ReadMessage()
	}
	if watching {
		c.unwatch()
	}
	if err != nil {
		_ = c.closeLocked()
		return nil, c.callError(ctx, call, err)
	}

	r, err := envelope.DecodeResponse(msg)
	if err != nil {
		_ = c.closeLocked()
		return nil, fmt.Errorf("dRPC response from %s (module %d, method %d) does not decode; connection closed: %w", c.path, call.Module, call.Method, err)
	}
	if r.Sequence != seq {
		_ = c.closeLocked()
		return nil, fmt.Errorf("%w: sent %d, received %d from %s; connection closed", ErrSequenceMismatch, seq, r.Sequence, c.path)
	}
	resp := &Response{Sequence: r.Sequence, Status: Status(r.Status)}
	if len(r.Body) > 0 {
		resp.Body = bytes.Clone(r.Body) // msg is the receiver's buffer
	}
	return resp, nil
}

// callError explains a failed send or receive, preferring the context's
// error when the context is why the I/O stopped.
func (c *ClientConnection) callError(ctx context.Context, call *Call, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("dRPC call to %s (module %d, method %d) interrupted; connection closed: %w", c.path, call.Module, call.Method, cause)
	}
	return fmt.Errorf("dRPC call to %s (module %d, method %d) failed; connection closed: %w", c.path, call.Module, call.Method, err)
}

// aLongTimeAgo is a deadline that has passed: setting it unblocks I/O.
var aLongTimeAgo = time.Unix(1, 0)

// watch makes ctx's deadline and cancellation interrupt the connection's
// I/O, without a goroutine unless ctx ends. It reports whether unwatch must
// be called.
func (c *ClientConnection) watch(ctx context.Context) bool {
	deadline, hasDeadline := ctx.Deadline()
	if ctx.Done() == nil && !hasDeadline {
		return false
	}
	_ = c.conn.SetDeadline(deadline) // zero if there is none
	c.watchMu.Lock()
	c.watchID++
	id, conn := c.watchID, c.conn
	c.watchMu.Unlock()
	c.stopWatch = context.AfterFunc(ctx, func() {
		c.watchMu.Lock()
		defer c.watchMu.Unlock()
		if c.watchID == id { // the call is still running
			_ = conn.SetDeadline(aLongTimeAgo)
		}
	})
	return true
}

// unwatch ends the current call's watch and clears the deadline, so that a
// late cancellation cannot touch the next call.
func (c *ClientConnection) unwatch() {
	c.stopWatch() // releases ctx's reference to the callback
	c.stopWatch = nil
	c.watchMu.Lock()
	c.watchID++
	c.watchMu.Unlock()
	if c.conn != nil {
		_ = c.conn.SetDeadline(time.Time{})
	}
}
