// Command buf-plugin-drpc is a buf check plugin (bufplugin) with the rules
// that keep dRPC module and method IDs right, so that the schema can be
// their single source of truth (see proto/drpc/v1/options.proto).
//
// Every service of the schema is a dRPC module. Lint rules:
//
//	DRPC_SERVICE_MODULE_ID      every service has a (drpc.v1.module_id), 0..MaxModuleID
//	DRPC_MODULE_ID_UNIQUE       no two services have the same module ID
//	DRPC_RPC_METHOD_ID          every rpc has a (drpc.v1.method_id)
//	DRPC_METHOD_ID_RANGE        module N's rpcs have method IDs N*100+1 .. N*100+99
//	DRPC_METHOD_ID_UNIQUE       no two rpcs of the schema have the same method ID
//	DRPC_RESERVED_METHOD_IDS    (drpc.v1.reserved_method_ids) lie in the module's
//	                            range, are listed once, and no rpc uses one
//
// Breaking rules (against the previous schema):
//
//	DRPC_MODULE_ID_NO_CHANGE            a service keeps its module ID
//	DRPC_METHOD_ID_NO_CHANGE            an rpc keeps its method ID
//	DRPC_RPC_NO_DELETE_UNLESS_RESERVED  an rpc is removed only if its method ID is
//	                                    added to the service's reserved IDs
//	DRPC_RESERVED_METHOD_ID_NO_DELETE   a reserved method ID stays reserved
//
// The ID rules themselves (valid module IDs, ranges, uniqueness, reserved
// IDs) are those of package github.com/cc532012/drpc/drpc/ids, which the
// transport, the catalog and the code generator share: the plugin fills an
// ids.Set with the schema and words what it refuses as annotations.
//
// All rules belong to the category DRPC. The repository's buf.yaml lists the
// plugin under `plugins:` as `go tool buf-plugin-drpc` (a tool of the tools
// module) and enables the rules in `lint.use` and `breaking.use`; `make
// lint` and `make breaking` run them.
package main

import "buf.build/go/bufplugin/check"

func main() {
	check.Main(spec)
}
