// Package drpc is a Go implementation of dRPC, the local RPC system DAOS uses
// between processes on one machine: protobuf Call and Response messages over
// AF_UNIX SOCK_SEQPACKET sockets, split into packets of at most 128 KiB that
// each start with a 24-byte chunk header. It interoperates byte for byte with
// the DAOS Go and C implementations.
//
// # Client
//
// A ClientConnection talks to one server socket. Calls are synchronous: the
// connection sends a Call, waits for its Response and checks that the
// response carries the call's sequence number. It is safe for concurrent
// use; calls from many goroutines take turns, and Close interrupts a call
// in flight.
//
//	conn := drpc.NewClientConnection("/var/run/daos_server/daos_server.sock")
//	if err := conn.Connect(ctx); err != nil { ... }
//	defer conn.Close()
//	resp, err := conn.SendMsg(ctx, &drpc.Call{Module: 3, Method: 301, Body: body})
//	// err: the call could not be sent or no valid response came back.
//	// resp.Status: what the server reports; FailureFromResponse turns it
//	// into an error.
//
// SendMsg returns a body the caller owns; SendMsgFunc lends the body to a
// function instead, without a copy or an allocation, and Invoke (which the
// generated clients use) decodes replies that way.
//
// A Pool serves many goroutines with up to PoolOptions.Size sessions to one
// socket, one call at a time on each. It replaces the sessions the server
// closes (restart, shutdown, idle timeout) and sends a call again when the
// server did not run it (ErrNotSent), or, for an idempotent Method (see
// NewIdempotentMethod), when its answer was lost (ErrOutcomeUnknown).
//
//	pool := drpc.NewPool(path, drpc.PoolOptions{Size: 8})
//	defer pool.Close()
//	client := mgmtv1drpc.NewMgmtServiceClient(pool) // a pool is a Sender
//
// # Server
//
// A DomainSocketServer listens on one socket and runs one goroutine per
// client connection (a Session). Calls name a module ID and a method ID; the
// server routes them to the Module registered under that ID.
//
//	srv, err := drpc.NewDomainSocketServer("/var/run/my.sock", drpc.WithLogger(log))
//	if err := srv.RegisterRPCModule(myModule); err != nil { ... }
//	if err := srv.Start(ctx); err != nil { ... } // ctx bounds the start only
//	...
//	err = srv.Shutdown(ctx) // refuse new calls, finish calls in flight, close
//
// Serve(ctx) is the lifetime form: it starts the server and serves until
// ctx ends (then shuts down) or Shutdown is called.
//
// NewDomainSocketServerFromListener serves a socket someone else created,
// such as systemd's socket activation.
//
// Module N owns the method IDs N*100+1 .. N*100+99 (package ids).
// A handler reports failure with a *Failure carrying a Status; any other
// error is STATUS_FAILURE, and a panic in user code (a module, its methods,
// an interceptor, Stats) fails only that call.
//
// # Options
//
// ServerOption and ClientOption configure each side; an Option
// (WithMaxMessageSize, WithBusyPoll) configures both. Interceptors
// (WithInterceptor, WithClientInterceptor) wrap every call; Stats
// (WithStats) reports calls and sessions for metrics; package interceptor
// has ready-made logging and uid allow-list interceptors.
//
// # Safety
//
// Start never takes over a path where a server listens or that holds
// anything but a stale socket, and the socket file appears with exactly
// the requested mode, without touching the process umask. A malformed
// packet closes that session only; a message above the size limit is
// dropped without being buffered and answered with its reason.
//
// Limits (WithLimits, DefaultLimits) bound what the clients of a socket may
// make the server hold, so that one local user cannot starve the others:
// sessions in all and per user, an idle timeout, a time for a message's
// packets to arrive, and the memory of receive buffers in all and per user.
// Memory grows with the bytes a peer sends, never with the size it
// declares. A server that shuts down answers every call it receives, with
// a result or a refusal.
package drpc
