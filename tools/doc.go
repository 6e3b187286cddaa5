// Package tools holds the developer tooling of the dRPC repository: buf,
// protoc-gen-go and staticcheck as `go tool` entries (see go.mod), and the
// schema checks that need them.
package tools
