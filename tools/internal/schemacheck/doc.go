// Package schemacheck holds tests that prove the repository's schema checks
// work: that buf breaking, configured by the root buf.yaml, rejects the
// changes that would break the dRPC wire or the generated API and accepts
// the ones that do not, and that buf lint and buf breaking run the dRPC ID
// rules of the check plugin (tools/cmd/buf-plugin-drpc). It has no API of
// its own.
//
// Each case runs buf (`go tool buf`, found once per test binary) on its own
// copy of the schema, in parallel: about 6 s on 2 cores with a warm Go
// cache (16 s when each case looked buf up again and ran alone). With an
// empty cache the go command first builds buf, about 2 minutes; make test
// does that on a line of its own before the tests.
package schemacheck
