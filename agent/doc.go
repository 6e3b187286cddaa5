// Package agent is the module of the dRPC agent daemon, drpc-agent: the
// process that local clients ask for a signed credential of their own
// identity (dRPC module 1, method 101, on daos_agent.sock, as DAOS's
// daos_agent).
//
// The binary is cmd/drpc-agent (flags and wiring only); the daemon's logic is
// in internal/agent (configuration, start, reload, shutdown, systemd
// integration) and the security agent module in internal/secagent. The
// systemd units are in systemd/. See README.md for the commands, flags,
// configuration keys and benchmarks.
//
// This package itself holds no code; it marks the module's place in the
// layering proto <- drpc <- api, daemon <- agent.
package agent
