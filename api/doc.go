// Package api holds the dRPC service code generated from the schema in the
// proto module (github.com/cc532012/drpc/proto) by protoc-gen-go-drpc
// (`make generate`, configured by buf.gen.yaml): apart from this file and
// the tests, nothing in this module is written by hand, and the output is
// committed (`make check-generated` fails if it is stale). Do not edit it.
//
// The packages follow the Go packages of the messages, without their
// leading drpc/: one Go package per proto package, named after the
// messages' Go package plus "drpc", in a folder of that name (as
// connect-go writes pingv1connect/):
//
//	proto/drpc/test/v1/test.proto       -> api/test/v1/testv1drpc       (module 0)
//	proto/drpc/auth/v1/service.proto    -> api/auth/v1/authv1drpc       (modules 1 and 4)
//	proto/drpc/mgmt/v1/mgmt.proto       -> api/mgmt/v1/mgmtv1drpc       (module 2)
//	proto/drpc/srv/v1/srv.proto         -> api/srv/v1/srvv1drpc         (module 3)
//	proto/drpc/control/v1/control.proto -> api/control/v1/controlv1drpc (module 1000)
//
// so that, for example, github.com/cc532012/drpc/api/srv/v1/srvv1drpc (package
// srvv1drpc) serves the messages of github.com/cc532012/drpc/proto/drpc/srv/v1
// (package srvv1).
//
// Each package declares, per service: the module and method IDs and a
// drpc.Method per rpc; New<Service>Client, a typed client over a
// drpc.Sender; the <Service>Server interface, the embeddable
// Unimplemented<Service>Server and New<Service>Module, which turns an
// implementation into a drpc.Module; and, at init, the methods' entries in
// the catalog package (github.com/cc532012/drpc/drpc/catalog).
//
// The code lives in its own module, between the transport and the daemons
// (proto <- drpc <- api <- server, agent): it imports the transport, which
// the proto module must not depend on, and it changes with the schema,
// which the transport must not: a schema change releases proto and api
// only.
package api
