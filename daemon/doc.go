// Package daemon is the plumbing that the dRPC daemons (drpc-server and
// drpc-agent) share, written once so that both behave alike. It holds no code
// itself; each concern is a small package of its own:
//
//   - [github.com/cc532012/drpc/daemon/config]: strict YAML configuration
//     files (an unknown key or a bad value is an error naming the key and the
//     line), a Duration type, and the dump of the effective configuration.
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
//     of a daemon and its safe creation.
//   - [github.com/cc532012/drpc/daemon/version]: the module version from the
//     build information.
//   - [github.com/cc532012/drpc/daemon/cli]: the cobra pieces both daemons
//     share: common flags and config keys, the version command, exit codes
//     and one-line error messages.
//
// The module sits between the transport and the daemons in the layering
// proto <- drpc <- daemon <- server, agent. Only daemon/metrics imports the
// transport (for its Stats interface); the Prometheus client library is
// imported here and never by the drpc module, so transport users do not
// inherit it.
package daemon
