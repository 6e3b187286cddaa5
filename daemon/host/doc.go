// Package host runs a dRPC daemon: what drpc-agent and drpc-server (and a
// daemon of your own) share, written once so that every daemon behaves
// alike.
//
// A daemon describes itself in a Spec: its name, its runtime directory and
// socket (name and mode), the dRPC modules it serves, its common
// configuration keys (Common: logging, metrics_addr and the limits of its
// socket) and its own hooks into the start and the stop. The Host does the
// rest, the same for every daemon:
//
//   - the runtime directory: created if the daemon allows it (and removed
//     again at the stop), and refused, in one line that says what to do, if
//     it or any directory above it could be changed by a user other than
//     root and the daemon's own (rundir.CheckSecure), so that nobody can move
//     the socket away and serve their own;
//   - the listener: a socket it creates with its exact mode, never over a
//     live one (ErrSocketInUse names the process that serves it), or the
//     one systemd passed (socket activation);
//   - the limits (Limits): sessions in all and per user, idle and message
//     timeouts, message size and receive memory in all and per user;
//   - the Prometheus endpoint, with a series for every method of its
//     modules;
//   - Start and Shutdown, each with the daemon's hooks, and Run: signals
//     (SIGINT and SIGTERM stop, SIGUSR2 reloads), systemd's READY=1 and
//     STOPPING=1, and a stop bounded in time.
//
// A new daemon is its modules, its configuration struct (inlining Common)
// and a Spec; see docs/architecture.md.
package host
