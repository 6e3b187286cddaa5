// Package server is the module of the dRPC server daemon, drpc-server
// (cmd/drpc-server): the control-plane process that DAOS I/O engines call
// on daos_server.sock (the srv and security modules) and that calls them back
// on their own sockets (the mgmt module). Its packages are internal: the
// daemon's logic in internal/server, one package per dRPC module (srv,
// security, control) and the engine registry with its mgmt client
// (internal/engine). See README.md for the commands, flags, configuration
// keys and systemd units.
package server
