// Package tlsconfig turns a daemon's transport_config section into the
// *tls.Config of its network link, and makes the certificates for it.
//
// The section is DAOS's (daos_agent.yml, daos_server.yml):
//
//	transport_config:
//	  allow_insecure: false
//	  ca_cert: /etc/drpc/certs/daosCA.crt
//	  cert: /etc/drpc/certs/server.crt
//	  key: /etc/drpc/certs/server.key
//	  client_cert_dir: /etc/drpc/certs/clients   # the server only
//
// TLS is mutual by default: the server requires a client certificate signed
// by ca_cert, and the client verifies the server's against ca_cert and the
// name it dialled. With client_cert_dir set, a client certificate must also
// be listed there, as <common name>.crt holding that very certificate: the
// CA says who the agent is, the directory says that this server lets it in,
// and removing a file revokes one agent without a new CA. allow_insecure
// turns TLS off (plain TCP, no authentication: tests only).
//
// Files are checked as ssh checks its own: a private key that group or
// others may read, or a certificate that they may write, is refused with
// the chmod that fixes it. The server's configuration can be reloaded
// (ServerTLS.Reload): new connections use the new files, and a bad new file
// leaves the old ones in use.
//
// Hint turns a handshake error, as either side sees it, into one sentence
// that says what is most likely wrong (another CA, an expired certificate,
// TLS on one side only).
//
// NewAuthority, Issue and GenerateFiles make a test CA and certificates
// (drpc-server gen-certs). This package does not import gRPC: the daemons
// wrap its *tls.Config in gRPC credentials themselves.
package tlsconfig
