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

// fixtureParam is the generator's parameter for the fixtures: their Go
// packages example.com/fixture/X give example.com/gen/X, written under X/.
const fixtureParam = "import_prefix_map=example.com/fixture=example.com/gen,module=example.com/gen"

// schemaParam is the generator's parameter for the repository's schema, as
// buf.gen.yaml sets it (TestSchemaOutputIsCommitted checks that it does).
var schemaParam = []string{
	"module=github.com/cc532012/drpc/api",
	"import_prefix_map=github.com/cc532012/drpc/proto/drpc=github.com/cc532012/drpc/api",
	"skip_file=mgmt/mgmt.proto",
}

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
	req := request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), fixtureParam)
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
	// Files with services only: messages.proto, types.proto and req.proto
	// give nothing.
	require.ElementsMatch(t, []string{"v1/fixturev1drpc/alpha_drpc.pb.go", "v1/fixturev1drpc/beta_drpc.pb.go", "v1/fixturev1drpc/gamma_drpc.pb.go"}, want)
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
	req := request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), fixtureParam)
	files, err := run(req)
	require.NoError(t, err)
	alpha, beta, gamma := files["v1/fixturev1drpc/alpha_drpc.pb.go"], files["v1/fixturev1drpc/beta_drpc.pb.go"], files["v1/fixturev1drpc/gamma_drpc.pb.go"]

	tests := []struct {
		name, file, want string
	}{
		{"package named after the Go package of the messages", alpha, "\npackage fixturev1drpc\n"},
		{"package doc in the first file only", alpha, "// Package fixturev1drpc is"},
		{"message package imported by protogen", alpha, `v1 "example.com/fixture/v1"`},
		{"the transport keeps its name", alpha, `drpc "github.com/cc532012/drpc/drpc"`},
		{"a Go package named drpc does not shadow the transport", alpha, `drpc1 "example.com/fixture/drpc"`},
		{"identifiers of the other drpc package", alpha, "(*drpc1.Value, error)"},
		{"well-known types", alpha, `emptypb "google.golang.org/protobuf/types/known/emptypb"`},
		{"nested message types", alpha, "(*v1.Ping_Pong, error)"},
		{"module ID", alpha, "HTTPGatewayServiceModuleID drpc.ModuleID = 7"},
		{"method ID", alpha, "HTTPGatewayServiceLookupMethodID drpc.MethodID = 799"},
		{"method named by its full name", alpha, `"fixture.v1.HTTPGatewayService.SendPing")`},
		{"unexported names lower the initialism", alpha, "type httpGatewayServiceModule struct"},
		{"deprecated rpc", alpha, "// Deprecated: the rpc is deprecated in the schema."},
		{"rpc without comment", alpha, "// Stop calls HTTPGatewayService.Stop."},
		{"service without rpcs has a module", alpha, "func NewIdleServiceModule(impl IdleServiceServer) drpc.Module"},
		{"catalog entry", alpha, "MethodName: \"Lookup\","},
		{"idempotent rpc in the catalog", alpha, "MethodName: \"SendPing\",\n\t\t\tRequest:    (*v1.Ping)(nil).ProtoReflect().Type(),\n\t\t\tResponse:   (*v1.Ping_Pong)(nil).ProtoReflect().Type(),\n\t\t\tIdempotent: true,\n"},
		{"idempotent rpc in the docs", alpha, "// Method ID 701, idempotent (drpc.v1.idempotent).\n"},
		{"idempotent rpc's Method", alpha, `= drpc.NewIdempotentMethod(HTTPGatewayServiceModuleID, HTTPGatewayServiceSendPingMethodID, "fixture.v1.HTTPGatewayService.SendPing")`},
		{"other rpcs' Methods", alpha, `= drpc.NewMethod(HTTPGatewayServiceModuleID, HTTPGatewayServiceLookupMethodID,`},
		{"second file of the package", beta, "\npackage fixturev1drpc\n"},
		{"a package named like a variable", gamma, `req "example.com/fixture/req"`},
		{"the variable is renamed", gamma, "Put(ctx context.Context, req1 *req.Body) (*req.Body, error)"},
		{"the renamed variable in the adapter", gamma, "req1 := new(req.Body)"},
		{"the other variables keep their names", gamma, "reply, err := m.impl.Put(ctx, session, req1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, tc.file, tc.want)
		})
	}
	assert.NotContains(t, beta, "// Package ", "the package doc must be written once")
	assert.NotContains(t, gamma, "// Package ", "the package doc must be written once")
	assert.NotContains(t, beta, "catalog1", "one name per import")
	assert.Equal(t, 1, strings.Count(alpha, "Idempotent: true,"), "only SendPing is idempotent")
	assert.Equal(t, 1, strings.Count(alpha, "drpc.NewIdempotentMethod("), "only SendPing is idempotent")
}

// TestSchemaOutputIsCommitted generates the repository's schema as `make
// generate` does and compares the output with the api module, file by
// file.
func TestSchemaOutputIsCommitted(t *testing.T) {
	bufGen, err := os.ReadFile(filepath.Join(repoRoot, "buf.gen.yaml"))
	require.NoError(t, err)
	for _, opt := range schemaParam {
		require.Contains(t, string(bufGen), opt, "buf.gen.yaml must set the generator's options as this test does")
	}

	req := request(t, []string{schemaDir}, protoFiles(t, schemaDir), strings.Join(schemaParam, ","))
	files, err := run(req)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"auth/v1/authv1drpc/service_drpc.pb.go",
		"control/v1/controlv1drpc/control_drpc.pb.go",
		"mgmt/v1/mgmtv1drpc/mgmt_drpc.pb.go",
		"srv/v1/srvv1drpc/srv_drpc.pb.go",
		"test/v1/testv1drpc/test_drpc.pb.go",
	}, keys(files))

	apiDir := filepath.Join(repoRoot, "api")
	var committed []string
	err = filepath.WalkDir(apiDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_drpc.pb.go") {
			return err
		}
		rel, err := filepath.Rel(apiDir, path)
		committed = append(committed, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	require.ElementsMatch(t, keys(files), committed, "api is stale: run make generate")
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(apiDir, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.Equal(t, content, string(got), "api/%s is stale: run make generate", name)
	}
}

// importsParam is the generator's parameter for the imports file of the
// repository, as buf.gen.yaml's second protoc-gen-go-drpc entry sets it.
var importsParam = []string{
	"module=github.com/cc532012/drpc/tools",
	"import_prefix_map=github.com/cc532012/drpc/proto/drpc=github.com/cc532012/drpc/api",
	"imports=github.com/cc532012/drpc/tools/internal/apiall",
	"skip_file=mgmt/mgmt.proto",
}

// TestImportsFile: with imports=PKG the generator writes one file, PKG's,
// that imports every package it generates for the request, once each,
// sorted; and the committed tools/internal/apiall is what the schema gives
// (make check-generated checks it too).
func TestImportsFile(t *testing.T) {
	fixtures := filepath.Join("testdata", "proto")
	req := request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), fixtureParam+",imports=example.com/gen/all")
	files, err := run(req)
	require.NoError(t, err)
	require.Equal(t, []string{"all/" + ImportsFile}, keys(files))
	got := files["all/"+ImportsFile]
	assert.Contains(t, got, "// Code generated by protoc-gen-go-drpc (imports=example.com/gen/all). DO NOT EDIT.\n")
	assert.Contains(t, got, "\npackage all\n")
	var imports []string
	for _, line := range strings.Split(got, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "_ "); ok {
			imports = append(imports, p)
		}
	}
	assert.NotEmpty(t, imports)
	assert.True(t, slices.IsSorted(imports), "sorted: %v", imports)
	assert.Equal(t, len(imports), len(slices.Compact(slices.Clone(imports))), "each once: %v", imports)
	for _, p := range imports {
		assert.True(t, strings.HasPrefix(p, `"example.com/gen/`), p)
	}

	bufGen, err := os.ReadFile(filepath.Join(repoRoot, "buf.gen.yaml"))
	require.NoError(t, err)
	for _, opt := range importsParam {
		require.Contains(t, string(bufGen), opt, "buf.gen.yaml must set the generator's options as this test does")
	}
	require.Contains(t, string(bufGen), "strategy: all")
	req = request(t, []string{schemaDir}, protoFiles(t, schemaDir), strings.Join(importsParam, ","))
	files, err = run(req)
	require.NoError(t, err)
	require.Equal(t, []string{"internal/apiall/" + ImportsFile}, keys(files))
	committed, err := os.ReadFile(filepath.Join(repoRoot, "tools", "internal", "apiall", ImportsFile))
	require.NoError(t, err)
	assert.Equal(t, files["internal/apiall/"+ImportsFile], string(committed), "tools/internal/apiall is stale: run make generate")

	for _, bad := range []string{"imports=", "imports=example.com/x/1bad", "imports=example.com/x/_u"} {
		_, err := run(request(t, []string{fixtures, schemaDir}, protoFiles(t, fixtures), fixtureParam+","+bad))
		assert.ErrorContains(t, err, "want the import path of a package", bad)
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
		{"negative module ID", `service S { option (drpc.v1.module_id) = -1; }`, "", `module "bad.v1.S" has ID -1, want 0..21474835`},
		{"rpc without method ID", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M); }`, "", "rpc A has no (drpc.v1.method_id) option"},
		{"method ID below the range", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 100; } }`, "",
			`method "bad.v1.S.A" of module 1 has ID 100, outside the module's range 101..199`},
		{"method ID above the range", `service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 200; } }`, "", "outside the module's range 101..199"},
		{"duplicate method ID", `service S { option (drpc.v1.module_id) = 1;
			rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; }
			rpc B(M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", `method "bad.v1.S.B" has ID 101, which method "bad.v1.S.A" already has`},
		{"duplicate module ID", `service S { option (drpc.v1.module_id) = 1; }
			service T { option (drpc.v1.module_id) = 1; }`, "", `module "bad.v1.T" has ID 1, which module "bad.v1.S" already has`},
		{"reserved method ID in use", `service S { option (drpc.v1.module_id) = 1; option (drpc.v1.reserved_method_ids) = 101;
			rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", `method "bad.v1.S.A" has ID 101, which module "bad.v1.S" reserves`},
		{"reserved method ID outside the range", `service S { option (drpc.v1.module_id) = 1; option (drpc.v1.reserved_method_ids) = 201; }`, "",
			`module "bad.v1.S" (ID 1) reserves method ID 201, outside its range 101..199`},
		{"streaming rpc", `service S { option (drpc.v1.module_id) = 1; rpc A(stream M) returns (M) { option (drpc.v1.method_id) = 101; } }`, "", "rpc A streams"},
		{"output source relative", `service S { option (drpc.v1.module_id) = 1; }`, "paths=source_relative", "drop paths=source_relative"},
		{"no import_prefix_map", `service S { option (drpc.v1.module_id) = 1; }`, "-", "no import_prefix_map option"},
		{"Go package under no prefix", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com/other=example.com/gen",
			`the Go package "example.com/bad/v1" is under no import_prefix_map prefix (example.com/other)`},
		{"prefix that is not at a path boundary", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com/ba=example.com/gen",
			"is under no import_prefix_map prefix"},
		{"empty import_prefix_map", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=", "want import_prefix_map=FROM=TO"},
		{"import_prefix_map without TO", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com", "want import_prefix_map=FROM=TO"},
		{"import_prefix_map onto itself", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com=example.com/", "would share the folders"},
		{"import_prefix_map twice", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com=a.com,import_prefix_map=example.com=b.com", "example.com is already mapped to a.com"},
		{"output outside module", `service S { option (drpc.v1.module_id) = 1; }`, "import_prefix_map=example.com=gen.com,module=other.com", `does not match prefix "other.com"`},
		{"unknown option", `service S { option (drpc.v1.module_id) = 1; }`, "frobnicate=1", "frobnicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "bad", "v1"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bad", "v1", "bad.proto"), []byte(header+tc.schema+"\n"), 0o644))
			param := "import_prefix_map=example.com=example.com/gen"
			switch {
			case tc.param == "-":
				param = ""
			case strings.HasPrefix(tc.param, "import_prefix_map="):
				param = tc.param
			case tc.param != "":
				param += "," + tc.param
			}
			_, err := run(request(t, []string{dir, schemaDir}, []string{"bad/v1/bad.proto"}, param))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSkipFile checks that skip_file leaves out a file whose services are
// not dRPC modules (a gRPC service without module IDs, under no
// import_prefix_map prefix), while the other files of the run are generated
// and checked as usual.
func TestSkipFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"grpcsvc/svc.proto": `syntax = "proto3";
package grpcsvc;
import "good/v1/good.proto";
option go_package = "example.org/grpcsvc;grpcsvcpb";
service Svc { rpc A(good.v1.M) returns (good.v1.M); }
`,
		"good/v1/good.proto": `syntax = "proto3";
package good.v1;
import "drpc/v1/options.proto";
option go_package = "example.com/good/v1;goodv1";
message M {}
service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; } }
`,
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	files := []string{"good/v1/good.proto", "grpcsvc/svc.proto"}
	const param = "import_prefix_map=example.com=example.com/gen"

	_, err := run(request(t, []string{dir, schemaDir}, files, param))
	require.Error(t, err, "without skip_file, a service without module ID is refused")
	assert.Contains(t, err.Error(), "grpcsvc/svc.proto")

	got, err := run(request(t, []string{dir, schemaDir}, files, param+",skip_file=grpcsvc/svc.proto"))
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com/gen/good/v1/goodv1drpc/good_drpc.pb.go"}, keys(got), "the skipped file gives nothing, the other its code")

	got, err = run(request(t, []string{dir, schemaDir}, []string{"good/v1/good.proto"}, param+",skip_file=grpcsvc/svc.proto"))
	require.NoError(t, err, "a skipped file absent from the run (buf runs the plugin per directory) is no error")
	assert.Len(t, got, 1)

	for _, bad := range []string{"skip_file=", "skip_file=/abs.proto", "skip_file=a/../b.proto", "skip_file=a.proto,skip_file=a.proto"} {
		_, err := run(request(t, []string{dir, schemaDir}, files, param+","+bad))
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "skip_file=", bad)
	}
}

// TestMultiplePrefixes checks that the longest import_prefix_map prefix
// wins.
func TestMultiplePrefixes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "good", "v1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good", "v1", "good.proto"), []byte(`syntax = "proto3";
package good.v1;
import "drpc/v1/options.proto";
option go_package = "example.com/proto/good/v1;goodv1";
message M {}
service S { option (drpc.v1.module_id) = 1; rpc A(M) returns (M) { option (drpc.v1.method_id) = 101; } }
`), 0o644))
	files, err := run(request(t, []string{dir, schemaDir}, []string{"good/v1/good.proto"},
		"import_prefix_map=example.com=example.com/all,import_prefix_map=example.com/proto/good=example.com/api/good"))
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com/api/good/v1/goodv1drpc/good_drpc.pb.go"}, keys(files))
	assert.Contains(t, files["example.com/api/good/v1/goodv1drpc/good_drpc.pb.go"], "\npackage goodv1drpc\n")
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
