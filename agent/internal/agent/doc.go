// Package agent is the drpc-agent daemon, without its command line: the
// configuration (Config, DefaultConfig), the daemon's life (New, Start,
// Reload, Shutdown, and Run, which adds signals and systemd notification),
// and key generation (GenerateKey). The binary in cmd/drpc-agent only parses
// flags and calls it; tests start agents in-process with it.
//
// An agent serves the security agent module (package secagent) on the
// socket RUNTIME_DIR/daos_agent.sock with mode 0666, so that every local
// user can ask for a credential, or on the socket that systemd passes when
// the agent is socket-activated (that socket file is systemd's: the agent
// neither removes nor changes it).
package agent
