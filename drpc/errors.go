package drpc

import (
	"errors"

	"github.com/cc532012/drpc/drpc/internal/unixsock"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// Errors returned by this package, wrapped with context; test for them with
// errors.Is.
var (
	// ErrSocketInUse: Start found a server listening on the socket path.
	ErrSocketInUse = unixsock.ErrSocketInUse
	// ErrNotSocket: Start found a file that is not a socket at the path.
	ErrNotSocket = unixsock.ErrNotSocket
	// ErrBadSocketPath: the socket path cannot hold a socket: it is empty,
	// longer than the kernel allows (MaxSocketPathLen bytes), or its
	// directory is missing or not a directory; the message says which, and
	// what to do.
	ErrBadSocketPath = errors.New("bad socket path")
	// ErrWrongSocketType: a listener given to
	// NewDomainSocketServerFromListener is not an AF_UNIX SOCK_SEQPACKET
	// socket.
	ErrWrongSocketType = errors.New("listener is not an AF_UNIX SOCK_SEQPACKET socket")

	// ErrMalformedPacket: the peer sent a packet that breaks the framing
	// rules; the connection was closed.
	ErrMalformedPacket = wire.ErrMalformedPacket
	// ErrMessageTooLarge: a message is larger than the configured maximum
	// (WithMaxMessageSize); it was dropped whole.
	ErrMessageTooLarge = wire.ErrMessageTooLarge

	// ErrNotConnected: the client is not connected; call Connect first.
	ErrNotConnected = errors.New("dRPC client is not connected")
	// ErrNotSent: the call did not reach the server (whole), so the server
	// did not run it: it is safe to send again. The error of a call that
	// was sent and then broke off does not wrap it: its outcome is
	// unknown.
	ErrNotSent = errors.New("dRPC call was not sent")
	// ErrOutcomeUnknown: the call was sent whole, but no answer came back
	// (the connection broke, the context ended or the client was closed
	// first), so the server may or may not have run it. Send it again
	// only if running it twice does no harm; a Pool does that by itself
	// for idempotent methods.
	ErrOutcomeUnknown = errors.New("dRPC call was sent but no answer came: the server may or may not have run it")
	// ErrMalformedReply: a call succeeded but its reply body does not
	// decode into the method's reply message (the peer speaks another
	// version of the schema, or is broken). Invoke and the generated
	// clients return it wrapped, with the decoding error.
	ErrMalformedReply = errors.New("dRPC reply does not decode")
	// ErrConnectionClosed: the client's connection was closed by Close
	// while a call was in progress, or the Pool the call was made through
	// was closed.
	ErrConnectionClosed = errors.New("dRPC connection was closed")
	// ErrSequenceMismatch: a response did not echo the call's sequence
	// number; the connection was closed.
	ErrSequenceMismatch = errors.New("dRPC response sequence does not match the call")
	// ErrInvalidModule: RegisterRPCModule rejected a module: a bad ID or
	// one that another module has, a method outside the module's range, or
	// a nil module. The message says which.
	ErrInvalidModule = errors.New("invalid dRPC module")
	// ErrServerStarted: Start was called on a server that was already
	// started.
	ErrServerStarted = errors.New("dRPC server already started")
	// ErrServerClosed: the server has been shut down and cannot start
	// again; Serve returns it after a Shutdown called elsewhere.
	ErrServerClosed = errors.New("dRPC server is shut down")
	// ErrShutdownInterrupted: Shutdown's context ended before every call in
	// flight had finished; those calls were cut off.
	ErrShutdownInterrupted = errors.New("dRPC server shut down before its calls finished")
)

// MaxSocketPathLen is the longest socket path the kernel accepts.
const MaxSocketPathLen = unixsock.MaxPathLen
