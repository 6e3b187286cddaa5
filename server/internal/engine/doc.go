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
// A call connects to the engine's socket, sends the request, checks the
// reply's status and closes the connection, as DAOS's server does. It is
// retried, with capped exponential backoff and jitter, until the caller's
// context ends, when the engine is not there yet: its socket does not exist
// (ENOENT), nothing listens on it (ECONNREFUSED), its backlog is full
// (EAGAIN), or the connect timed out. These errors happen before the
// request is sent, so the engine
// never saw it. Once the request is sent, the engine may have run it even if
// no reply came back (the attempt timed out, the connection broke): such a
// call is resent only if the method is idempotent, which the schema says with
// the option (drpc.v1.idempotent) and the catalog reports
// (catalog.Entry.Idempotent). Set rank, prepare for shutdown and ping are.
// A reply, whatever its status, ends the call: the engine answered.
//
// Errors are *CallError values that name the engine, the method and the
// number of attempts.
//
// # Connections are not reused
//
// Each call opens its own connection, as DAOS's server does. BenchmarkCall
// in this package measures both ways on the same in-process engine: a ping
// on a new connection takes about 170 µs and allocates about 280 KB (the
// transport's 128 KiB receive buffer of the new client and of the engine's
// new session, both in the benchmark's process), a ping on a connection
// kept open about 9 µs and 320 B (2 cores, -benchtime 2s). Kept connections are
// faster per call, but the server makes one call per engine per second, so
// the saving is under 0.02% of a core and 280 KB/s of garbage per engine;
// and a kept connection fails in a worse way: after an engine restarts,
// the first call on the old connection fails once its request may have
// been sent, which only an idempotent method can recover from, where a new
// connection fails before sending (ECONNREFUSED, ENOENT) and is retried
// safely for any method. A connection per call also means the engine sees a
// fresh session, with fresh peer credentials, for every call.
package engine
