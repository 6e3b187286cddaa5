package main

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/protoutil"
	"github.com/bufbuild/protocompile/wellknownimports"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// repoRoot is the repository root, seen from this package's folder.
var repoRoot = filepath.Join("..", "..", "..")

// schemaDir is the repository's proto/ folder, where drpc/v1/options.proto is.
var schemaDir = filepath.Join(repoRoot, "proto")

// request compiles files (paths relative to one of importPaths, which also
// resolve their imports, with the well-known types) into the request
// protoc or buf would send the plugin, with source info and thus comments.
func request(t *testing.T, importPaths, files []string, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	compiler := protocompile.Compiler{
		Resolver:       wellknownimports.WithStandardImports(&protocompile.SourceResolver{ImportPaths: importPaths}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := compiler.Compile(t.Context(), files...)
	require.NoError(t, err)

	// Every file after its imports, as protoc orders them.
	var protos []*descriptorpb.FileDescriptorProto
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		protos = append(protos, protoutil.ProtoFromFileDescriptor(fd))
	}
	for _, fd := range linked {
		add(fd)
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files, Parameter: proto.String(param), ProtoFile: protos}

	// Through the wire encoding, as the plugin reads it from stdin.
	data, err := proto.Marshal(req)
	require.NoError(t, err)
	out := new(pluginpb.CodeGeneratorRequest)
	require.NoError(t, proto.Unmarshal(data, out))
	return out
}

// run runs the generator on req as main does and returns the files it
// writes, by name, or the error it reports.
func run(req *pluginpb.CodeGeneratorRequest) (map[string]string, error) {
	cfg := new(config)
	gen, err := options(cfg).New(req)
	if err != nil {
		return nil, err
	}
	if err := generate(gen, *cfg); err != nil {
		return nil, err
	}
	resp := gen.Response()
	if resp.Error != nil {
		return nil, errors.New(resp.GetError())
	}
	files := make(map[string]string)
	for _, f := range resp.GetFile() {
		files[f.GetName()] = f.GetContent()
	}
	return files, nil
}

// protoFiles lists the .proto files under dir, relative to dir.
func protoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	slices.Sort(files)
	return files
}

// TestGolden generates the fixtures under testdata/proto and compares the
// output with testdata/golden/<name>.golden. Run with -update to rewrite
// the golden files after a deliberate change.
func TestGolden(t *testing.T) {
	fixtures := filepath.Join("testdata", "proto")
	req := request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), "paths=source_relative,import_prefix=example.com/gen")
	files, err := run(req)
	require.NoError(t, err)

	goldenDir := filepath.Join("testdata", "golden")
	if *update {
		require.NoError(t, os.RemoveAll(goldenDir))
		for name, content := range files {
			path := filepath.Join(goldenDir, filepath.FromSlash(name)+".golden")
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		}
	}

	var want []string
	err = filepath.WalkDir(goldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(goldenDir, path)
		want = append(want, strings.TrimSuffix(filepath.ToSlash(rel), ".golden"))
		return err
	})
	require.NoError(t, err)
	// Files with services only: messages.proto and types.proto give nothing.
	require.ElementsMatch(t, []string{"fixture/v1/alpha_drpc.pb.go", "fixture/v1/beta_drpc.pb.go"}, want)
	require.ElementsMatch(t, want, keys(files), "generated files differ from testdata/golden (run go test -update)")
	for _, name := range want {
		golden, err := os.ReadFile(filepath.Join(goldenDir, filepath.FromSlash(name)+".golden"))
		require.NoError(t, err)
		assert.Equal(t, string(golden), files[name], "%s differs from its golden file (run go test -update)", name)
	}
}

// TestGoldenProperties spells out what the golden files show, so that a
// careless -update cannot bless a regression unnoticed.
func TestGoldenProperties(t *testing.T) {
	fixtures := filepath.Join("testdata", "proto")
	req := request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), "paths=source_relative,import_prefix=example.com/gen")
	files, err := run(req)
	require.NoError(t, err)
	alpha, beta := files["fixture/v1/alpha_drpc.pb.go"], files["fixture/v1/beta_drpc.pb.go"]

	tests := []struct {
		name, file, want string
	}{
		{"package named after the Go package of the messages", alpha, "\npackage fixturev1drpc\n"},
		{"package doc in the first file only", alpha, "// Package fixturev1drpc is"},
		{"message package aliased by its Go package name", alpha, `fixturev1 "example.com/fixture/v1"`},
		{"a Go package named drpc does not shadow the transport", alpha, `drpc1 "example.com/fixture/types"`},
		{"well-known types imported by their package name", alpha, `"google.golang.org/protobuf/types/known/emptypb"`},
		{"nested message types", alpha, "(*fixturev1.Ping_Pong, error)"},
		{"module ID", alpha, "HTTPGatewayServiceModuleID drpc.ModuleID = 7"},
		{"method ID", alpha, "HTTPGatewayServiceLookupMethodID drpc.MethodID = 799"},
		{"method named by its full name", alpha, `"fixture.v1.HTTPGatewayService.SendPing")`},
		{"unexported names lower the initialism", alpha, "type httpGatewayServiceModule struct"},
		{"deprecated rpc", alpha, "// Deprecated: the rpc is deprecated in the schema."},
		{"rpc without comment", alpha, "// Stop calls HTTPGatewayService.Stop."},
		{"service without rpcs has a module", alpha, "func NewIdleServiceModule(impl IdleServiceServer) drpc.Module"},
		{"catalog entry", alpha, "MethodName: \"Lookup\","},
		{"second file of the package", beta, "\npackage fixturev1drpc\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, tc.file, tc.want)
		})
	}
	assert.NotContains(t, beta, "// Package ", "the package doc must be written once")
}

// TestSchemaOutputIsCommitted generates the repository's schema as `make
// generate` does and compares the output with drpc/gen, file by file.
func TestSchemaOutputIsCommitted(t *testing.T) {
	req := request(t, []string{schemaDir}, protoFiles(t, schemaDir), "paths=source_relative")
	files, err := run(req)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"drpc/auth/v1/service_drpc.pb.go",
		"drpc/mgmt/v1/mgmt_drpc.pb.go",
		"drpc/srv/v1/srv_drpc.pb.go",
		"drpc/test/v1/test_drpc.pb.go",
	}, keys(files))

	genDir := filepath.Join(repoRoot, "drpc", "gen")
	var committed []string
	err = filepath.WalkDir(genDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_drpc.pb.go") {
			return err
		}
		rel, err := filepath.Rel(genDir, path)
		committed = append(committed, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	require.ElementsMatch(t, keys(files), committed, "drpc/gen is stale: run make generate")
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(genDir, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, content, string(got), "drpc/gen/%s is stale: run make generate", name)
	}
}

// TestRejectsBadSchemas checks that the generator refuses what it cannot
// generate correct code for, and says why.
func TestRejectsBadSchemas(t *testing.T) {
	const header = `syntax = "proto3";
package bad.v1;
import "drpc/v1/options.proto";
option go_package = "example.com/bad/v1;badv1";
message M {}
`
	tests := []struct {
		name   string
		schema string
		param  string
		want   string
	}{
		{"service without module ID", `service S { rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", "has no (drpc.v1.module_id) option"},
		{"negative module ID", `service S { option (drpc.v1.module_id) = -1; }`, "", "has module ID -1, want 0..21474835"},
		{"rpc without method ID", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M); }`, "", "rpc A has no (drpc.v1.method_id) option"},
		{"method ID below the range", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 100; } }`, "", "rpc A has method ID 100, outside module 1's range 101..199"},
		{"method ID above the range", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 200; } }`, "", "outside module 1's range 101..199"},
		{"duplicate method ID", `service S { option (drpc.v1.module_id) = 1;
			rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; }
			rpc B(M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", "rpcs A and B have the same method ID 101"},
		{"reserved method ID in use", `service S { option (drpc.v1.module_id) = 1; option (drpc.v1.reserved_method_ids) = 101;
			rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", "rpc A has method ID 101, which the service reserves"},
		{"streaming rpc", `service S { option (drpc.v1.module_id) = 1; rpc A(stream M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", "rpc A streams"},
		{"output not source relative", `service S { option (drpc.v1.module_id) = 1; }`, "paths=import", "set the option paths=source_relative"},
		{"empty import prefix", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix=", "import_prefix is empty"},
		{"unknown option", `service S { option (drpc.v1.module_id) = 1; }`, "frobnicate=1", "frobnicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "bad", "v1"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bad", "v1", "bad.proto"), []byte(header+tc.schema+"\n"), 0o644))
			param := "paths=source_relative"
			if tc.param != "" {
				param += "," + tc.param
			}
			_, err := run(request(t, []string{dir, schemaDir}, []string{"bad/v1/bad.proto"}, param))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLowerFirst(t *testing.T) {
	tests := map[string]string{
		"Echo":               "echo",
		"TestService":        "testService",
		"HTTPGatewayService": "httpGatewayService",
		"ID":                 "id",
		"A":                  "a",
		"already":            "already",
		"":                   "",
	}
	for in, want := range tests {
		assert.Equal(t, want, lowerFirst(in), "lowerFirst(%q)", in)
	}
}

func TestReflow(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, line := range strings.Split(reflow(long), "\n") {
		assert.LessOrEqual(t, len(line), lineWidth)
	}
	assert.Equal(t, "a b c", reflow("a\n  b   c "))
	huge := strings.Repeat("x", lineWidth+10)
	assert.Equal(t, "a\n"+huge+"\nb", reflow("a "+huge+" b"), "a word longer than a line gets its own")
}

// keys returns the sorted keys of m.
func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
