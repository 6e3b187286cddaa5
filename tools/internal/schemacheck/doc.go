// Package schemacheck holds tests that prove the repository's schema checks
// work: that buf breaking, configured by the root buf.yaml, rejects the
// changes that would break the dRPC wire or the generated API and accepts
// the ones that do not, and that buf lint and buf breaking run the dRPC ID
// rules of the check plugin (tools/cmd/buf-plugin-drpc). It has no API of
// its own.
package schemacheck
