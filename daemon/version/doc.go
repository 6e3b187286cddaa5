// Package version reports what a daemon binary was built from, for its
// `version` command: the main module's path and version (a release tag such
// as v1.2.0 when built with `go install module@version`, "(devel)" when built
// from a work tree), the Go version, the VCS revision when the build
// recorded one, and the versions of the project's other modules that the
// binary contains.
//
// Everything comes from runtime/debug.ReadBuildInfo, except that a build
// from a work tree for an installation or a package (`make install`,
// `make packages`) stamps the version it is released as, which then stands
// for the main module's version:
//
//	go build -ldflags "-X github.com/cc532012/drpc/daemon/version.stamped=v0.1.0"
package version
