// Package version reports what a daemon binary was built from, for its
// `version` command: the main module's path and version (a release tag such
// as v1.2.0 when built with `go install module@version`, "(devel)" when built
// from a work tree), the Go version, the VCS revision when the build
// recorded one, and the versions of the project's other modules that the
// binary contains.
//
// Everything comes from runtime/debug.ReadBuildInfo; nothing is stamped with
// -ldflags.
package version
