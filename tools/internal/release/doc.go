// Package release prepares this repository's modules for a release that
// `go install module/cmd@version` can use: it rewrites a module's go.mod to
// require released versions of its sibling modules instead of the `replace
// ../sibling` lines of development (RewriteGoMod), and it builds what a
// module proxy serves for a module version (module zips made with
// golang.org/x/mod/zip, .info, .mod and list files), so a test can install
// the binaries from a file-based proxy without a network.
package release
