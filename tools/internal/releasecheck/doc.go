// Package releasecheck proves, without a network, that a release made as
// RELEASING.md says can be installed with `go install module/cmd/X@version`:
// it releases every module of the working tree at a test version with the
// release step (tools/internal/release, as cmd/release-gomod does), serves
// the module zips from a file-based module proxy, installs drpc-server,
// drpc-agent, drpc and drpc-engine into an empty GOPATH and module cache,
// and runs each installed binary. It has only tests.
package releasecheck
