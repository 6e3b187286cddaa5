// Package engine is the server's side of the mgmt module (dRPC module 2),
// which engines serve and the server calls: a Caller that makes one call to
// an engine with retries, and a Registry of the engines that notified ready
// (or that the server found running at its start and adopted, Adopt),
// which gives each its rank (method 202), pings it (225) on an interval to
// know whether it still answers, and prepares every ready engine for
// shutdown (218) when the server stops.
//
// # Calls and retries
//
// A Caller keeps a drpc.Pool of sessions per engine socket (at most two
// sessions, closed after a minute unused) and sends each call on one of
// them; a reply, whatever its status, ends the call: the engine answered.
// What never reached the engine is tried again, with a growing backoff,
// until the attempt's context ends: a session the engine closed meanwhile
// (it restarted or stopped: the send fails before the request is out, and
// the pool dials a new session), a socket that does not exist (ENOENT),
// that nothing listens on (ECONNREFUSED) or whose backlog is full
// (EAGAIN). Once the request is sent, the engine may have run it even if
// no reply came back (the attempt timed out, the connection broke): such a
// call is resent only if the method is idempotent, which the schema says
// with the option (drpc.v1.idempotent) and the catalog reports
// (catalog.Entry.Idempotent). Set rank, prepare for shutdown and ping are.
// An attempt that ran out of time before its request was sent is followed
// by another at once, until the call's context ends.
//
// Errors are *CallError values that name the engine, the method and the
// number of attempts.
//
// # Sessions are kept
//
// DAOS's server opens a connection per call, and so did this package until
// the transport had a pool. BenchmarkCall measures both on the same
// in-process engine (2 cores, -benchtime 2s, both ends' allocations): a
// ping through the Caller's pool takes about 7 µs and 1.1 KB, a ping on a
// new connection about 30 µs and 4.8 KB (a connection kept open by hand:
// 4.6 µs, 320 B). The kept session no longer fails worse: after an engine
// restarts, the first call on the old session fails before its request is
// sent (the engine half-closes its sessions when it stops, and a dead
// engine's socket refuses the send), so the pool sends it again on a new
// session, whatever the method, as a new connection would have been.
package engine
