// Package signals gives a daemon the signal handling that systemd and
// operators expect:
//
//   - SIGINT and SIGTERM end the context that Handle returns, so the daemon
//     stops gracefully (finishes calls in flight, removes its socket) and
//     exits 0. Cause(ctx) tells which signal it was. A second SIGINT or
//     SIGTERM during the shutdown is logged (the daemon's shutdown timeout
//     bounds how long it takes).
//   - SIGUSR2 calls the daemon's reload function (for the agent: drop the
//     credential cache and re-read the key), one reload at a time. A daemon
//     without one logs that it has nothing to reload instead of dying, as
//     the default action of SIGUSR2 would.
//   - SIGPIPE is logged and ignored, as DAOS's agent does: a client that
//     hangs up must never kill the daemon.
//
// Stop (the function Handle returns) restores the default handling.
package signals
