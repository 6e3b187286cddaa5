// Package apicheck compares the exported Go API of each of the repository's
// modules with a baseline, the API of its last release, with
// golang.org/x/exp/apidiff, as `make api-check` does (cmd/api-check).
//
// The baseline of module FOLDER is committed under breaking/api/, so the
// check needs no network, no tags and no git history (CI runs on a clean
// clone):
//
//   - FOLDER.zip: the module's export data in the format of apidiff's
//     module mode (`apidiff -m -w`): an entry "module" with the module
//     path and one entry "<package path>.x" per package (gcexportdata);
//   - FOLDER.txt: the same API as text, one declaration a line, for review,
//     whose first line records the version the baseline was made at.
//
// Only what another module can import counts: internal packages and main
// packages are left out. The policy (Decide) follows semantic versioning:
// a module at v1 or above may not break its API (a break needs a new major
// version, whose module path ends in /vN); a v0 module may, if its
// CHANGELOG.md says so under "## Unreleased" in a "### Breaking" section.
package apicheck
