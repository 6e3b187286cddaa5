// Package drpc is a Go implementation of dRPC, the local RPC system that DAOS
// uses between processes on one machine: protobuf Call and Response messages
// over AF_UNIX SOCK_SEQPACKET sockets, in chunks with a 24-byte header.
package drpc
