// Package mgmtsvc is the server's management service over the network:
// DAOS's gRPC service mgmt.MgmtSvc, which the agent of every client node
// calls, for the methods the agent uses:
//
//   - /mgmt.MgmtSvc/GetAttachInfo: the ranks' fabric URIs and numbers of
//     contexts (from what the engines sent in notify ready), the MS ranks,
//     the client network hint of the configuration (client_net_hint), the
//     system name and a data version that grows when any of it changes;
//   - /mgmt.MgmtSvc/PoolEvict: evicts the named pool handles on every ready
//     engine, over dRPC (module 2, method 230), and keeps a record of it for
//     `drpc-server status`.
//
// The proto module holds only the messages and the service's descriptor
// (mgmt/mgmt.proto): no gRPC stubs, so that it does not depend on gRPC.
// This package registers a grpc.ServiceDesc whose service and method names
// are read from that descriptor, so the paths are DAOS's by construction.
//
// Listener serves it on TCP with mutual TLS (daemon/tlsconfig): a client
// must present a certificate the configured CA signed (and listed in
// client_cert_dir, if set). A refused handshake is logged once per peer
// and reason a minute, with a one-line hint; so is a TLS client at a
// server with allow_insecure (which gRPC alone would log only in its own
// logger).
package mgmtsvc
