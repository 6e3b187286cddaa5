// Package auth signs and verifies dRPC AUTH_SYS credentials, compatibly with
// DAOS. The security agent signs a credential for each local process that
// asks (dRPC method 101), the server verifies credentials that clients
// present (method 401), and the command-line tool shows them.
//
// # Layout (the DAOS wire format)
//
// A credential is
//
//	Credential{
//		token:    Token{flavor: AUTH_SYS, data: marshalled Sys},
//		verifier: Token{flavor: AUTH_SYS, data: signature of the marshalled token},
//		origin:   "agent",
//	}
//
// and Sys is the identity of the socket's peer (taken from SO_PEERCRED, never
// from the call):
//
//	Sys{stamp: 1700000000, machinename: "node1", user: "alice@",
//		group: "staff@", groups: ["wheel@", "video@"], secctx: ""}
//
// DAOS writes user and group names with a trailing '@' and the host name up
// to its first dot; NewSysToken does the same from an Identity of plain
// names. DAOS leaves stamp 0; this package stores the issue time in Unix
// seconds, which a Verifier can check with MaxAge. A stamp of 0 still
// verifies unless a maximum age is required.
//
// The signed bytes are the deterministic protobuf encoding of the Token
// message; the verifier re-marshals the received token to get them, as
// DAOS's server does.
//
// # Key types
//
//   - RSA (KeyRSA), as DAOS: RSA-PSS over the SHA-512 digest of the token
//     bytes, with the largest salt when signing and any salt length accepted
//     when verifying. DAOS uses 3072-bit keys (the default of GenerateKey);
//     keys of fewer than 2048 bits are refused.
//   - Ed25519 (KeyEd25519): pure Ed25519 over the token bytes. Smaller keys
//     and much faster signing. This is our addition: where a DAOS server
//     must verify the credentials, use RSA.
//
// Private keys are stored as PKCS#8 PEM ("PRIVATE KEY") with mode 0600, and
// LoadPrivateKey refuses a key that group or others can access. Public keys
// are PKIX PEM ("PUBLIC KEY"). The server finds the key that verifies a
// credential by its origin: the file "<origin>.pub" in a keys directory
// (LoadOriginKey). Origins come from the network, so ValidateOrigin refuses
// anything but a plain file name before a file is opened.
//
// # Insecure mode
//
// With no key (NewSigner(nil)) the verifier is only the SHA-512 digest of
// the token. That is what DAOS does when it runs without certificates, for
// development and tests: it keeps the message layout the same, but proves
// nothing, since anyone can compute the digest of any identity. A Verifier
// therefore refuses such credentials (ErrInsecureNotAllowed) unless
// AllowInsecure is set. Note that a digest and an Ed25519 signature are both
// 64 bytes; the verifier tells them apart by checking, never by length.
//
// # Errors
//
// Errors a caller may act on wrap one of the Err* values of this package,
// with context and a hint about what to do: test for them with errors.Is.
// File system errors keep their os errors (errors.Is(err, fs.ErrNotExist)).
package auth
