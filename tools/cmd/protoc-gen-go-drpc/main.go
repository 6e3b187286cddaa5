// Command protoc-gen-go-drpc generates Go code for the dRPC modules of a
// schema: for each proto file that declares services, a Go package with
//
//   - the module ID, method IDs and a drpc.Method per rpc;
//   - a typed client, New<Service>Client, over any drpc.Sender;
//   - a server adapter: the <Service>Server interface, the embeddable
//     Unimplemented<Service>Server, and New<Service>Module, which turns an
//     implementation into a drpc.Module;
//   - catalog entries (IDs, names, message types) registered at init.
//
// A service is a dRPC module: it must carry (drpc.v1.module_id), and each of
// its rpcs (drpc.v1.method_id), inside the module's range N*100+1..N*100+99
// (see proto/drpc/v1/options.proto). The generator refuses a schema that
// breaks those rules, and streaming rpcs, which dRPC does not have.
//
// It is a protoc plugin, run by `buf generate` (see buf.gen.yaml) as
// `go tool protoc-gen-go-drpc`. Output is always laid out like the proto
// files (paths=source_relative is required): drpc/auth/v1/service.proto
// gives drpc/auth/v1/service_drpc.pb.go, in the Go package named after the
// proto file's Go package plus "drpc" (authv1drpc), whose import path is
// <import_prefix>/drpc/auth/v1. Options (buf.gen.yaml `opt`):
//
//	paths=source_relative   required
//	import_prefix=PATH      import path of the output folder
//	                        (default github.com/cc532012/drpc/drpc/gen)
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
	flags.StringVar(&cfg.importPrefix, "import_prefix", defaultImportPrefix, "import path of the output folder")
	return protogen.Options{ParamFunc: flags.Set}
}
