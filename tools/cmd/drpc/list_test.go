package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/wellknownimports"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/tools/cmd/drpc/internal/app"
	"github.com/cc532012/drpc/tools/internal/drpcopt"
)

// schemaDir is the repository's proto/ folder.
var schemaDir = filepath.Join("..", "..", "..", "proto")

// schemaMethod is one dRPC method as the schema declares it, or as
// `drpc list --json` shows it.
type schemaMethod struct {
	Module           int32
	Service          string
	Method           int32
	Name, FullName   string
	Request, Replies string
}

func (m schemaMethod) String() string {
	return fmt.Sprintf("%d/%d %s (%s -> %s)", m.Module, m.Method, m.FullName, m.Request, m.Replies)
}

// schemaMethods compiles every .proto file of the schema (the sources, not
// the Go packages this binary links) and returns the dRPC methods they
// declare, from the (drpc.v1.module_id) and (drpc.v1.method_id) options.
func schemaMethods(t *testing.T) []schemaMethod {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(schemaDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(schemaDir, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	}))
	require.NotEmpty(t, files)
	compiler := protocompile.Compiler{
		Resolver: wellknownimports.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{schemaDir}}),
	}
	linked, err := compiler.Compile(t.Context(), files...)
	require.NoError(t, err)

	// Files whose services are not dRPC modules (the gRPC service), which
	// buf.gen.yaml tells the generator to skip.
	bufGen, err := os.ReadFile(filepath.Join(schemaDir, "..", "buf.gen.yaml"))
	require.NoError(t, err)
	var skipped []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- skip_file=(\S+)$`).FindAllStringSubmatch(string(bufGen), -1) {
		skipped = append(skipped, m[1])
	}
	require.Contains(t, skipped, "mgmt/mgmt.proto")

	var out []schemaMethod
	for _, fd := range linked {
		if slices.Contains(skipped, fd.Path()) {
			continue
		}
		services, err := drpcopt.LoadFile(fd)
		require.NoError(t, err, fd.Path())
		for _, s := range services {
			require.True(t, s.HasModuleID, "service %s has no (drpc.v1.module_id)", s.Desc.FullName())
			for _, m := range s.Methods {
				require.True(t, m.HasID, "rpc %s has no (drpc.v1.method_id)", m.Desc.FullName())
				out = append(out, schemaMethod{
					Module:   s.ModuleID,
					Service:  string(s.Desc.FullName()),
					Method:   m.ID,
					Name:     string(m.Desc.Name()),
					FullName: string(m.Desc.FullName()),
					Request:  string(m.Desc.Input().FullName()),
					Replies:  string(m.Desc.Output().FullName()),
				})
			}
		}
	}
	require.NotEmpty(t, out, "the schema declares no dRPC method")
	return out
}

// TestListHoldsTheSchema checks that `list --json` parses and lists every
// method of the schema, with its IDs and types, and nothing else: a proto
// package whose generated api package the tool does not import (through
// tools/internal/apiall, which make generate writes) fails here.
func TestListHoldsTheSchema(t *testing.T) {
	r := tool(t, "list", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Empty(t, r.Stderr)
	var l app.ListJSON
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &l))
	assert.Empty(t, l.Conflicts)

	var got []schemaMethod
	for _, m := range l.Modules {
		for _, me := range m.Methods {
			got = append(got, schemaMethod{
				Module: m.ID, Service: m.Service, Method: me.ID, Name: me.Name,
				FullName: me.FullName, Request: me.Request, Replies: me.Reply,
			})
		}
	}
	want := schemaMethods(t)
	key := func(a, b schemaMethod) int { return int(a.Method) - int(b.Method) }
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	assert.Equal(t, want, got, "drpc list --json must hold exactly the schema's methods: run make generate, which writes the imports of tools/internal/apiall")

	// The text form names every method too.
	text := tool(t, "list")
	require.Equal(t, 0, text.Code, text.Stderr)
	for _, m := range want {
		assert.Contains(t, text.Stdout, fmt.Sprintf("%d  %s", m.Method, m.Name))
		assert.Contains(t, text.Stdout, m.Request+" -> "+m.Replies)
	}
}
