// Command protoc-gen-go-drpc generates Go code for the dRPC modules of a
// schema: for each proto file that declares services, a Go package with
//
//   - the module ID, method IDs and a drpc.Method per rpc;
//   - a typed client, New<Service>Client, over any drpc.Sender;
//   - a server adapter: the <Service>Server interface, the embeddable
//     Unimplemented<Service>Server, and New<Service>Module, which turns an
//     implementation into a drpc.Module;
//   - catalog entries (IDs, names, message types, and whether the rpc is
//     idempotent, from (drpc.v1.idempotent)) registered at init.
//
// A service is a dRPC module: it must carry (drpc.v1.module_id), and each of
// its rpcs (drpc.v1.method_id). The IDs must follow the rules of package
// github.com/cc532012/drpc/drpc/ids, checked across every file generated in
// one run: module IDs valid and unique, method IDs inside their module's
// range N*100+1..N*100+99 and unique, reserved method IDs
// ((drpc.v1.reserved_method_ids)) unused. The generator refuses a schema
// that breaks them, and streaming rpcs, which dRPC does not have.
//
// It is a protoc plugin, run by `buf generate` (see buf.gen.yaml) as
// `go tool protoc-gen-go-drpc`. The generated code does not go next to the
// messages: it imports the transport, which the message module must not
// depend on. Its import path comes from the messages' Go package
// (go_package) through import_prefix_map, and the output is laid out by
// import path, as protoc-gen-go does with paths=import. With the
// repository's options, proto/drpc/srv/v1/srv.proto (go_package
// github.com/cc532012/drpc/proto/drpc/srv/v1) gives srv/v1/srv_drpc.pb.go
// in the output folder api/, import path github.com/cc532012/drpc/api/srv/v1/srvv1drpc,
// package srvv1drpc (the Go package name of the messages plus "drpc").
// Options (buf.gen.yaml `opt`):
//
//	import_prefix_map=FROM=TO  required, repeatable: the messages of Go
//	                           package FROM/X get their dRPC code in
//	                           package TO/X (the longest FROM wins)
//	module=TO                  (protogen) strip TO/ from the output file
//	                           names, so that the output folder is the
//	                           module TO
//	imports=PKG                write only PKG/imports_drpc.pb.go, package
//	                           base(PKG), which imports every generated
//	                           package for its side effect (the catalog
//	                           entries): a tool that imports PKG knows
//	                           every method of the schema. Needs every
//	                           file in one request (buf strategy: all).
//	skip_file=PATH             repeatable: generate nothing for the proto
//	                           file PATH (as the request names it, e.g.
//	                           mgmt/mgmt.proto), whose services are not
//	                           dRPC modules (a gRPC service). buf runs
//	                           the plugin once per directory, so a PATH
//	                           absent from one run is not an error
//
// paths=source_relative is refused: the output follows the import path.
package main

import (
	"flag"

	"google.golang.org/protobuf/compiler/protogen"
)

func main() {
	cfg := new(config)
	options(cfg).Run(func(gen *protogen.Plugin) error {
		return generate(gen, *cfg)
	})
}

// options returns the protogen options that parse the plugin's parameters
// into cfg.
func options(cfg *config) protogen.Options {
	flags := new(flag.FlagSet)
	flags.Func("import_prefix_map", "FROM=TO: the dRPC code of messages in Go package FROM/X goes to package TO/X", cfg.addImportMap)
	flags.Func("imports", "PKG: write only PKG/"+ImportsFile+", which imports every generated package", cfg.setImports)
	flags.Func("skip_file", "PATH: generate nothing for the proto file PATH (its services are not dRPC modules)", cfg.addSkipFile)
	return protogen.Options{ParamFunc: flags.Set}
}
