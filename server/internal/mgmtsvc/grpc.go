package mgmtsvc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	mgmtpb "github.com/cc532012/drpc/proto/mgmt"
)

// descriptor is the gRPC service of the schema, mgmt.MgmtSvc.
var descriptor = mgmtpb.File_mgmt_mgmt_proto.Services().ByName("MgmtSvc")

// handler is what grpc.Server checks the registered implementation has.
type handler interface {
	GetAttachInfo(context.Context, *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error)
	PoolEvict(context.Context, Peer, *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error)
}

// methodHandlers are the handlers of the service's methods, by name.
var methodHandlers = map[protoreflect.Name]grpc.MethodHandler{
	"GetAttachInfo": unary(func(ctx context.Context, h handler, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error) {
		return h.GetAttachInfo(ctx, req)
	}),
	"PoolEvict": unary(func(ctx context.Context, h handler, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
		return h.PoolEvict(ctx, peerOf(ctx), req)
	}),
}

// unary makes the grpc.MethodHandler of a method: decode the request,
// run the interceptor if any, call f, and turn its error into a status.
func unary[Req any, Resp any, PReq interface {
	*Req
	protoreflect.ProtoMessage
}](f func(context.Context, handler, PReq) (Resp, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := PReq(new(Req))
		if err := dec(req); err != nil {
			return nil, err
		}
		h := srv.(handler) // grpc.Server.RegisterService checked it
		call := func(ctx context.Context, r any) (any, error) {
			resp, err := f(ctx, h, r.(PReq))
			if err != nil {
				return nil, statusOf(err)
			}
			return resp, nil
		}
		if interceptor == nil {
			return call(ctx, req)
		}
		method, _ := grpc.Method(ctx)
		return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, call)
	}
}

// statusOf turns the service's errors into gRPC status errors.
func statusOf(err error) error {
	if errors.Is(err, ErrWrongSystem) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// ServiceDesc returns the grpc.ServiceDesc of mgmt.MgmtSvc: its service
// and method names are read from the schema's descriptor, each with its
// handler. A method of the descriptor without a handler is an error (the
// schema has a method this server does not implement).
func ServiceDesc() (*grpc.ServiceDesc, error) {
	desc := &grpc.ServiceDesc{
		ServiceName: string(descriptor.FullName()),
		HandlerType: (*handler)(nil),
		Metadata:    descriptor.ParentFile().Path(),
	}
	methods := descriptor.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		h, ok := methodHandlers[m.Name()]
		if !ok {
			return nil, fmt.Errorf("the schema's %s has method %s, which this server does not implement", descriptor.FullName(), m.Name())
		}
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: string(m.Name()), Handler: h})
	}
	return desc, nil
}

// MethodPaths returns the full gRPC paths of the service's methods,
// "/mgmt.MgmtSvc/GetAttachInfo"...
func MethodPaths() []string {
	var out []string
	methods := descriptor.Methods()
	for i := range methods.Len() {
		out = append(out, "/"+string(descriptor.FullName())+"/"+string(methods.Get(i).Name()))
	}
	return out
}

// peerOf describes the caller of ctx: its address and the common name of
// its TLS certificate.
func peerOf(ctx context.Context) Peer {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Peer{}
	}
	out := Peer{}
	if p.Addr != nil {
		out.Addr = p.Addr.String()
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
		out.Name = info.State.PeerCertificates[0].Subject.CommonName
	}
	return out
}
