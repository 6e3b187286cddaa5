package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/rpc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	storjdrpc "storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcmanager"
	"storj.io/drpc/drpcmux"
	"storj.io/drpc/drpcserver"
	"storj.io/drpc/drpcwire"
)

// The peers, each over a Unix stream socket with its defaults except the
// message size limits (raised so that every body size fits). Each echoes a
// plain byte slice, without protobuf, like the `drpc` row, and each client
// gets a reply body it owns, as SendMsg returns one.

// peerMaxMessage bounds messages on every peer: above maxBodySize plus
// framing.
const peerMaxMessage = 2 * maxBodySize

// gRPC: a hand-written service description and a codec for []byte.

const grpcEchoMethod = "/bench.Echo/Echo"

// grpcBytesCodec encodes a *[]byte (or []byte) as its bytes; decoding copies
// the received bytes into a new slice, as the protobuf codec does.
type grpcBytesCodec struct{}

func (grpcBytesCodec) Name() string { return "benchbytes" }

func (grpcBytesCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch b := v.(type) {
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return nil, fmt.Errorf("grpc bytes codec: cannot encode %T", v)
}

func (grpcBytesCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("grpc bytes codec: cannot decode into %T", v)
	}
	*p = data.Materialize()
	return nil
}

func grpcEchoHandler(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new([]byte)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return in, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: grpcEchoMethod}
	return interceptor(ctx, in, info, func(_ context.Context, req any) (any, error) { return req, nil })
}

var grpcEchoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Echo", Handler: grpcEchoHandler}},
}

func startGRPCServer(path string) (*grpc.Server, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("grpc server: %w", err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(grpcBytesCodec{}),
		grpc.MaxRecvMsgSize(peerMaxMessage), grpc.MaxSendMsgSize(peerMaxMessage))
	srv.RegisterService(&grpcEchoDesc, struct{}{})
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

type grpcCaller struct {
	cc    *grpc.ClientConn
	req   []byte
	reply []byte
}

func dialGRPC(path string) (caller, error) {
	cc, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(grpcBytesCodec{}),
			grpc.MaxCallRecvMsgSize(peerMaxMessage), grpc.MaxCallSendMsgSize(peerMaxMessage)))
	if err != nil {
		return nil, fmt.Errorf("grpc client %s: %w", path, err)
	}
	return &grpcCaller{cc: cc}, nil
}

func (g *grpcCaller) call(req []byte, check func([]byte) error) error {
	g.req, g.reply = req, nil
	if err := g.cc.Invoke(context.Background(), grpcEchoMethod, &g.req, &g.reply); err != nil {
		return fmt.Errorf("grpc Invoke: %w", err)
	}
	return check(g.reply)
}

func (g *grpcCaller) Close() error { return g.cc.Close() }

// storj.io/drpc: a hand-written description and encoding for a message
// that holds a byte slice.

const storjEchoRPC = "/bench.Echo/Echo"

type storjMsg struct{ b []byte }

// storjEncoding encodes a *storjMsg as its bytes; decoding copies them, as
// the buffer is only valid during the call.
type storjEncoding struct{}

func (storjEncoding) Marshal(m storjdrpc.Message) ([]byte, error) {
	p, ok := m.(*storjMsg)
	if !ok {
		return nil, fmt.Errorf("storj encoding: cannot encode %T", m)
	}
	return p.b, nil
}

func (storjEncoding) Unmarshal(buf []byte, m storjdrpc.Message) error {
	p, ok := m.(*storjMsg)
	if !ok {
		return fmt.Errorf("storj encoding: cannot decode into %T", m)
	}
	p.b = bytes.Clone(buf)
	return nil
}

type storjEchoServer struct{}

func (*storjEchoServer) Echo(_ context.Context, in *storjMsg) (*storjMsg, error) { return in, nil }

type storjEchoDesc struct{}

func (storjEchoDesc) NumMethods() int { return 1 }

func (storjEchoDesc) Method(n int) (string, storjdrpc.Encoding, storjdrpc.Receiver, any, bool) {
	if n != 0 {
		return "", nil, nil, nil, false
	}
	recv := func(srv any, ctx context.Context, in1, _ any) (storjdrpc.Message, error) {
		s, ok := srv.(*storjEchoServer)
		in, ok2 := in1.(*storjMsg)
		if !ok || !ok2 {
			return nil, fmt.Errorf("storj echo: unexpected %T, %T", srv, in1)
		}
		return s.Echo(ctx, in)
	}
	return storjEchoRPC, storjEncoding{}, recv, (*storjEchoServer).Echo, true
}

var storjManagerOptions = drpcmanager.Options{Reader: drpcwire.ReaderOptions{MaximumBufferSize: peerMaxMessage}}

func startStorjServer(ctx context.Context, path string) error {
	mux := drpcmux.New()
	if err := mux.Register(&storjEchoServer{}, storjEchoDesc{}); err != nil {
		return fmt.Errorf("storj drpc server: register: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("storj drpc server: %w", err)
	}
	srv := drpcserver.NewWithOptions(mux, drpcserver.Options{Manager: storjManagerOptions})
	go func() { _ = srv.Serve(ctx, ln) }()
	return nil
}

type storjCaller struct {
	conn *drpcconn.Conn
	in   storjMsg
}

func dialStorj(path string) (caller, error) {
	nc, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("storj drpc dial: %w", err)
	}
	return &storjCaller{conn: drpcconn.NewWithOptions(nc, drpcconn.Options{Manager: storjManagerOptions})}, nil
}

func (s *storjCaller) call(req []byte, check func([]byte) error) error {
	s.in.b = req
	out := new(storjMsg)
	if err := s.conn.Invoke(context.Background(), storjEchoRPC, storjEncoding{}, &s.in, out); err != nil {
		return fmt.Errorf("storj drpc Invoke: %w", err)
	}
	return check(out.b)
}

func (s *storjCaller) Close() error { return s.conn.Close() }

// net/rpc: the standard library's RPC (gob encoding).

type netrpcEcho struct{}

// Echo answers with the request.
func (netrpcEcho) Echo(req []byte, reply *[]byte) error {
	*reply = req
	return nil
}

func startNetRPCServer(path string) (net.Listener, error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Echo", netrpcEcho{}); err != nil {
		return nil, fmt.Errorf("net/rpc server: register: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("net/rpc server: %w", err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener closed
			}
			go srv.ServeConn(c)
		}
	}()
	return ln, nil
}

type netrpcCaller struct {
	c *rpc.Client
}

func dialNetRPC(path string) (caller, error) {
	c, err := rpc.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("net/rpc dial: %w", err)
	}
	return &netrpcCaller{c: c}, nil
}

func (n *netrpcCaller) call(req []byte, check func([]byte) error) error {
	var reply []byte
	if err := n.c.Call("Echo.Echo", req, &reply); err != nil {
		return fmt.Errorf("net/rpc Call: %w", err)
	}
	return check(reply)
}

func (n *netrpcCaller) Close() error { return n.c.Close() }
