// Package multinode runs the two-node picture for real, on loopback: a
// drpc-server with two drpc-engines (the storage node) and two drpc-agents,
// each with its own runtime directory (two client nodes), linked by the
// server's management service over gRPC with mutual TLS on 127.0.0.1.
// Client processes call the agents over dRPC: 206 returns both engines'
// URIs on each agent; a client that registered a pool handle (235) and is
// killed with SIGKILL has the handle evicted by both engines, through the
// agent (pidfd), the server (gRPC PoolEvict) and the engines (dRPC 230).
// Refused links (another CA, an expired certificate, TLS on one side only)
// are checked in both the agent's and the server's logs.
//
// It has tests only; the binaries are built as users build them
// (daemon/daemontest.Program, GOWORK=off).
package multinode
