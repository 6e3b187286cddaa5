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
//     and much faster signing. This is our addition: DAOS's agent and
//     server sign and verify RSA only, so where a DAOS peer must verify
//     the credentials or use the key, use RSA.
//
// Private keys are stored as PKCS#8 PEM ("PRIVATE KEY") with mode 0400, as
// DAOS's agent wants them, and LoadPrivateKey refuses a key that group or
// others can access (0600 is accepted too). Public keys are PKIX PEM
// ("PUBLIC KEY"). The server finds the key that verifies a credential by
// its origin in a keys directory (KeyDir, LoadOriginKey): the file
// "<origin>.pub", or an x509 certificate "<origin>.crt" as DAOS's server
// keeps them (used only within its validity period). Whoever can change a
// trusted key can forge any identity, so KeyDir refuses key files and
// directories that another user than root or the process's own owns or may
// write. Origins come from the network, so ValidateOrigin refuses anything
// but a plain file name before a file is opened.
//
// A token must name a user and a group: DecodeSys (and so Verify) refuses
// one without, however well signed.
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
