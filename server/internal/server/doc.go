// Package server is the drpc-server daemon, without its command line: the
// configuration (Config, DefaultConfig), the daemon's life (New, Start,
// Shutdown, and Run, which adds signals, socket activation and systemd
// notification), and the status client (FetchStatus, WriteStatusText,
// WriteStatusJSON). The binary in cmd/drpc-server only parses flags and
// calls it; tests start servers in-process with it.
//
// A server serves, on SOCKET_DIR/daos_server.sock (mode 0600: the engines
// run as the server's user) or on the socket systemd passes:
//
//   - the srv module (3, package srv): engines notify ready (301) and report
//     RAS events (304);
//   - the security module (4, package security): validate credentials (401);
//   - the control module (1000, package control): the status that
//     `drpc-server status` shows.
//
// It calls the engines back on their own sockets (the mgmt module, 2,
// package engine): set rank (202) after notify ready, ping (225) on an
// interval, and prepare for shutdown (218) when it stops.
//
// Start follows DAOS's server: the socket directory must exist and be a
// directory (only the default one is created); the previous run's
// daos_server.sock and daos_engine*.sock are removed if stale, and nothing
// else is (other names, files that are not sockets, sockets where a process
// listens); a server that listens on daos_server.sock is an error that names
// it; then the modules are registered and the socket is created.
package server
