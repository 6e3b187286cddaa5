// Package mgmtclient is the agent's client of the server's management
// service, DAOS's gRPC mgmt.MgmtSvc: GetAttachInfo and PoolEvict.
//
// The agent knows the servers by their access points (host[:port], as
// daos_agent.yml's access_points). A call tries the access point that
// answered last, then each other in turn; when all have failed it waits,
// with a growing backoff, and goes round again until the call's context
// ends. It logs which access point answered when that changes, and each
// access point's failure when it changes, with a one-line hint for TLS
// trouble.
//
// The link is mutual TLS by default (daemon/tlsconfig): the agent presents
// its certificate and verifies the server's against its CA and the access
// point's host. With TLS 1.3 a server checks the client's certificate
// after the client's handshake has ended; the credentials here wait for
// the server's first bytes before they hand the connection to gRPC, so
// that a refused certificate fails with the server's reason ("remote
// error: tls: bad certificate") rather than a bare closed connection.
//
// The method paths are read from the schema's descriptor of mgmt.MgmtSvc:
// /mgmt.MgmtSvc/GetAttachInfo and /mgmt.MgmtSvc/PoolEvict, DAOS's. This
// package does not import the server's.
package mgmtclient
