package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cc532012/drpc/drpc"
)

// This project's transport with a hand-written module 0 whose method 1
// (the ID the schema gives TestService.Echo) returns the request body as
// the reply: no protobuf besides the Call and Response envelopes.

const (
	echoModuleID drpc.ModuleID = 0
	echoMethodID drpc.MethodID = 1
	busyPollSpin               = 50 * time.Microsecond
)

var echoMethod = drpc.NewMethod(echoModuleID, echoMethodID, "bench.Echo")

// echoModule answers method 1 with the request body. With corrupt set it
// flips one byte of the reply instead, for the test that proves the harness
// notices a broken echo.
type echoModule struct {
	corrupt bool
}

func (m *echoModule) ID() drpc.ModuleID { return echoModuleID }

func (m *echoModule) String() string { return "bench echo" }

func (m *echoModule) Methods() []drpc.Method { return []drpc.Method{echoMethod} }

func (m *echoModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != echoMethodID {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return echoMethod, nil
}

func (m *echoModule) HandleCall(_ context.Context, _ *drpc.Session, _ drpc.Method, body []byte) ([]byte, error) {
	if m.corrupt && len(body) > 0 {
		body[len(body)/3] ^= 0x55 // the receive buffer is ours until we return
	}
	return body, nil
}

// startDRPCServer serves the echo module on path.
func startDRPCServer(ctx context.Context, path string, mod drpc.Module, opts ...drpc.ServerOption) (*drpc.DomainSocketServer, error) {
	srv, err := drpc.NewDomainSocketServer(path, opts...)
	if err != nil {
		return nil, fmt.Errorf("drpc server %s: %w", path, err)
	}
	if err := srv.RegisterRPCModule(mod); err != nil {
		return nil, fmt.Errorf("drpc server %s: register: %w", path, err)
	}
	if err := srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("drpc server %s: start: %w", path, err)
	}
	return srv, nil
}

// connectDRPC returns a connected client.
func connectDRPC(path string, opts ...drpc.ClientOption) (*drpc.ClientConnection, error) {
	c := drpc.NewClientConnection(path, opts...)
	if err := c.Connect(context.Background()); err != nil {
		return nil, fmt.Errorf("drpc connect %s: %w", path, err)
	}
	return c, nil
}

// drpcCaller makes calls with SendMsg, which returns a reply body the
// caller owns.
type drpcCaller struct {
	c   *drpc.ClientConnection
	msg drpc.Call
}

func dialDRPC(path string, opts ...drpc.ClientOption) (caller, error) {
	c, err := connectDRPC(path, opts...)
	if err != nil {
		return nil, err
	}
	return &drpcCaller{c: c, msg: drpc.Call{Module: int32(echoModuleID), Method: int32(echoMethodID)}}, nil
}

func (d *drpcCaller) call(req []byte, check func([]byte) error) error {
	d.msg.Body = req
	resp, err := d.c.SendMsg(context.Background(), &d.msg)
	if err != nil {
		return fmt.Errorf("drpc SendMsg: %w", err)
	}
	if resp.Status != drpc.StatusSuccess {
		return fmt.Errorf("drpc SendMsg: %w", drpc.FailureFromResponse(resp))
	}
	return check(resp.Body)
}

func (d *drpcCaller) Close() error { return d.c.Close() }

// lendCaller makes calls with SendMsgFunc, which lends the reply body (the
// connection's receive buffer) to a function: the check runs on it in place.
type lendCaller struct {
	c     *drpc.ClientConnection
	msg   drpc.Call
	check func([]byte) error
	fn    func(drpc.Status, []byte) error // made once, not per call
}

func dialLend(path string) (caller, error) {
	c, err := connectDRPC(path)
	if err != nil {
		return nil, err
	}
	l := &lendCaller{c: c, msg: drpc.Call{Module: int32(echoModuleID), Method: int32(echoMethodID)}}
	l.fn = l.lent
	return l, nil
}

func (l *lendCaller) lent(status drpc.Status, body []byte) error {
	if status != drpc.StatusSuccess {
		return fmt.Errorf("drpc SendMsgFunc: status %v", status)
	}
	return l.check(body)
}

func (l *lendCaller) call(req []byte, check func([]byte) error) error {
	l.msg.Body = req
	l.check = check
	if err := l.c.SendMsgFunc(context.Background(), &l.msg, l.fn); err != nil {
		return fmt.Errorf("drpc SendMsgFunc: %w", err)
	}
	return nil
}

func (l *lendCaller) Close() error { return l.c.Close() }

// poolCaller makes calls with SendMsg through a drpc.Pool that the cell's
// goroutines share: each call takes a free session of the pool.
type poolCaller struct {
	p   *drpc.Pool
	msg drpc.Call
}

// sharePool makes one pool of conns sessions for a cell's conns callers.
// The sessions are dialled by the first calls (the warm-up).
func sharePool(path string, conns int) (next func() caller, done func() error) {
	p := drpc.NewPool(path, drpc.PoolOptions{Size: conns})
	next = func() caller {
		return &poolCaller{p: p, msg: drpc.Call{Module: int32(echoModuleID), Method: int32(echoMethodID)}}
	}
	return next, p.Close
}

func (c *poolCaller) call(req []byte, check func([]byte) error) error {
	c.msg.Body = req
	resp, err := c.p.SendMsg(context.Background(), &c.msg)
	if err != nil {
		return fmt.Errorf("drpc pool SendMsg: %w", err)
	}
	if resp.Status != drpc.StatusSuccess {
		return fmt.Errorf("drpc pool SendMsg: %w", drpc.FailureFromResponse(resp))
	}
	return check(resp.Body)
}

// Close does nothing: the cell closes the pool.
func (c *poolCaller) Close() error { return nil }
