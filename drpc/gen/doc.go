// Package gen holds the Go code that protoc-gen-go-drpc generates from the
// dRPC schema in proto/ (`make generate`, configured by buf.gen.yaml): apart
// from this file and the tests, nothing here is written by hand, and the
// output is committed (`make check-generated` fails if it is stale).
//
// The folders mirror the proto files that declare services, one Go package
// per proto package, named after the messages' Go package plus "drpc":
//
//	proto/drpc/test/v1/test.proto     -> gen/drpc/test/v1  testv1drpc (module 0)
//	proto/drpc/auth/v1/service.proto  -> gen/drpc/auth/v1  authv1drpc (modules 1 and 4)
//	proto/drpc/mgmt/v1/mgmt.proto     -> gen/drpc/mgmt/v1  mgmtv1drpc (module 2)
//	proto/drpc/srv/v1/srv.proto       -> gen/drpc/srv/v1   srvv1drpc  (module 3)
//
// Each package declares, per service: the module and method IDs and a
// drpc.Method per rpc; New<Service>Client, a typed client over a
// drpc.Sender; the <Service>Server interface, the embeddable
// Unimplemented<Service>Server and New<Service>Module, which turns an
// implementation into a drpc.Module; and, at init, the methods' entries in
// the catalog package. The code lives in the drpc module, not next to the
// messages in the proto module, because it imports the transport.
package gen
