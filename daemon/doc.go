// Package daemon is the plumbing that the dRPC daemons (drpc-server and
// drpc-agent) share, written once so that both behave alike. It holds no code
// itself; each concern is a small package of its own:
//
//   - [github.com/cc532012/drpc/daemon/host]: the host every daemon runs
//     on: the runtime directory (made, checked against other users,
//     removed), the listener (created or systemd's), the limits of the
//     socket, the metrics endpoint, Start and Shutdown with the daemon's
//     hooks, and Run (signals, READY=1, STOPPING=1, a bounded stop). A
//     daemon gives it a Spec: its name, socket, modules and hooks.
//   - [github.com/cc532012/drpc/daemon/config]: strict YAML configuration
//     files (an unknown key, a bad value, a tab, and a value out of range
//     once checked, each an error naming the key and the line), Duration
//     and Size types, and the dump of the effective configuration.
//   - [github.com/cc532012/drpc/daemon/logging]: the *slog.Logger for
//     --log-level and --log-format, writing to stderr.
//   - [github.com/cc532012/drpc/daemon/signals]: a context that ends on
//     SIGINT or SIGTERM, a SIGUSR2 reload hook, SIGPIPE logged and ignored.
//   - [github.com/cc532012/drpc/daemon/sdnotify]: READY=1, STOPPING=1 and
//     STATUS= for systemd services of Type=notify.
//   - [github.com/cc532012/drpc/daemon/activation]: the listening socket that
//     systemd passes to a socket-activated daemon.
//   - [github.com/cc532012/drpc/daemon/metrics]: a Prometheus collector for
//     the transport's drpc.Stats and the /metrics HTTP endpoint.
//   - [github.com/cc532012/drpc/daemon/rundir]: the default runtime directory
//     of a daemon, its creation (and removal of what was made), and the
//     check that no other user could change it or a directory above it.
//   - [github.com/cc532012/drpc/daemon/version]: the module version from the
//     build information.
//   - [github.com/cc532012/drpc/daemon/cli]: the cobra pieces both daemons
//     share: the effective configuration of a command (defaults, file,
//     flags), with each key and its flag declared once on the config
//     struct; the config dump and version commands; exit codes and one-line
//     error messages.
//   - [github.com/cc532012/drpc/daemon/sockowner]: which process listens on
//     a socket, for the error of a daemon whose socket is in use.
//   - [github.com/cc532012/drpc/daemon/daemontest]: test helpers the
//     daemons' and tools' tests share (short socket directories, programs
//     built once, processes started as systemd starts them, in-process dRPC
//     servers); only tests import it.
//
// The module sits between the transport and the daemons in the layering
// proto <- drpc <- daemon <- server, agent. Only daemon/metrics (for its
// Stats interface) and the test helpers of daemon/daemontest import the
// transport; the Prometheus client library is
// imported here and never by the drpc module, so transport users do not
// inherit it.
package daemon
