package drpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc"
)

func TestFailuresAreLogged(t *testing.T) {
	// A handler's failure is logged once, at warn, with what the client
	// cannot see; a call to an unknown module or method at info, once per
	// peer in an interval, with a summary of those left out.
	rec := &logRecorder{}
	srv, _ := startServer(t, drpc.WithLogger(slog.New(rec)))
	require.NoError(t, srv.RegisterRPCModule(failing{}))
	c := connect(t, srv)
	for _, call := range []*drpc.Call{
		{Module: 6, Method: 601},
		{Module: 42, Method: 4201},
		{Module: 6, Method: 699},
		{Module: 6, Method: 101},
	} {
		_, err := c.SendMsg(context.Background(), call)
		require.NoError(t, err)
	}
	failed := rec.find("dRPC call failed")
	require.Len(t, failed, 1, "once per call")
	f := failed[0]
	assert.Equal(t, "WARN", f["level"])
	assert.Equal(t, "failing", f["module"])
	assert.Equal(t, "fails", f["method"])
	assert.Equal(t, "STATUS_FAILED_UNMARSHAL_PAYLOAD", f["status"])
	assert.Equal(t, "the request is missing its pool UUID: disk on fire", f["message"])
	assert.Equal(t, "disk on fire", f["cause"])

	refused := rec.find("dRPC call refused")
	require.Len(t, refused, 1, "the first of its kind from this uid")
	assert.Equal(t, "INFO", refused[0]["level"])
	assert.Equal(t, "STATUS_UNKNOWN_MODULE", refused[0]["status"])

	require.NoError(t, srv.Shutdown(context.Background()))
	summary := rec.find("dRPC: more records of this kind from this peer were left out")
	require.Len(t, summary, 1, "the stop writes the summary that is due")
	assert.Equal(t, "unknown method", summary[0]["kind"])
	assert.Equal(t, "2", summary[0]["left_out"])
	assert.Equal(t, "INFO", summary[0]["level"])
}

// failing is module 6: method 601 fails with a message and a cause.
type failing struct{}

var methodFails = drpc.NewMethod(6, 601, "fails")

func (failing) ID() drpc.ModuleID { return 6 }

func (failing) String() string { return "failing" }

func (failing) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id != 601 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return methodFails, nil
}

func (failing) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	return nil, drpc.WrapFailure(drpc.StatusFailedUnmarshalPayload,
		fmt.Errorf("the request is missing its pool UUID: %w", errors.New("disk on fire")))
}

func TestCallThatDoesNotDecode(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
	}{
		{"truncated tag", []byte{0xff}},
		{"truncated varint", []byte{0x08, 0x80}},
		{"field number 0", []byte{0x00, 0x01}},
		{"body longer than the message", []byte{0x22, 0x10, 'a'}},
		{"invalid wire type", []byte{0x0f, 0x00}},
	}
	srv, _ := startServer(t)
	c := dialPacket(t, srv.SocketPath())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, proto.Unmarshal(tc.msg, new(drpc.Call)), "the test message must not decode")
			require.NoError(t, writePackets(c, messagePackets(tc.msg)...))
			resp := readResponse(t, c)
			assert.Equal(t, int64(-1), resp.Sequence)
			assert.Equal(t, drpc.StatusFailedUnmarshalCall, resp.Status)
			assert.Empty(t, resp.Body)

			// The session goes on.
			require.NoError(t, writePackets(c, messagePackets(marshalCall(t, &drpc.Call{Method: int32(methodEcho), Sequence: 42, Body: []byte("ok")}))...))
			resp = readResponse(t, c)
			assert.Equal(t, int64(42), resp.Sequence)
			assert.Equal(t, drpc.StatusSuccess, resp.Status)
			assert.Equal(t, "ok", string(resp.Body))
		})
	}
}

func TestHandlerPanicFailsOnlyThatCall(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	other := connect(t, srv)
	for i := range 3 {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodPanic)})
		require.NoError(t, err)
		assert.Equal(t, drpc.StatusFailure, resp.Status)
		assert.Equal(t, int64(2*i+1), resp.Sequence)
		assert.Empty(t, resp.Body)

		resp, err = c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodEcho), Body: []byte("next")})
		require.NoError(t, err, "the session survives the panic")
		assert.Equal(t, drpc.StatusSuccess, resp.Status)
		assert.Equal(t, "next", string(resp.Body))
	}
	echo(t, other, "unharmed")
	assert.Equal(t, 2, srv.NumSessions())
}

// panicky is a module whose user code panics where told: in GetMethod,
// in its own String, in its method's String, or in HandleCall. Method 701
// panics; 702 answers "ok".
type panicky struct {
	where string
}

type panickyMethod struct {
	id    drpc.MethodID
	panic bool
}

func (m panickyMethod) ID() drpc.MethodID { return m.id }

func (m panickyMethod) Module() drpc.ModuleID { return 7 }

func (m panickyMethod) String() string {
	if m.panic {
		panic("Method.String bug")
	}
	return "m"
}

func (p *panicky) ID() drpc.ModuleID { return 7 }

func (p *panicky) String() string { return "panicky" }

func (p *panicky) Methods() []drpc.Method {
	return []drpc.Method{panickyMethod{id: 701}, panickyMethod{id: 702}}
}

func (p *panicky) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if id == 701 && p.where == "GetMethod" {
		panic("GetMethod bug")
	}
	if id != 701 && id != 702 {
		return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
	}
	return panickyMethod{id: id, panic: id == 701 && p.where == "method String"}, nil
}

func (p *panicky) HandleCall(_ context.Context, _ *drpc.Session, m drpc.Method, _ []byte) ([]byte, error) {
	if m.ID() == 701 {
		switch p.where {
		case "HandleCall":
			panic("HandleCall bug")
		case "method String":
			// A failure makes the server log the method's name.
			return nil, errors.New("failed")
		}
	}
	return []byte("ok"), nil
}

func TestUserCodePanicFailsOnlyThatCall(t *testing.T) {
	// Every call into user code is covered: a panic fails that call, the
	// session and the server go on.
	tests := []struct {
		name string
		opts []drpc.ServerOption
		mod  *panicky
	}{
		{"GetMethod", nil, &panicky{where: "GetMethod"}},
		{"HandleCall", nil, &panicky{where: "HandleCall"}},
		{"method String", nil, &panicky{where: "method String"}},
		{"interceptor", []drpc.ServerOption{drpc.WithInterceptor(func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
			if m.ID() == 701 {
				panic("interceptor bug")
			}
			return next.HandleCall(ctx, s, m, body)
		})}, &panicky{}},
		{"Stats.CallStarted", []drpc.ServerOption{drpc.WithStats(&panickyStats{onStart: true})}, &panicky{}},
		{"Stats.CallFinished", []drpc.ServerOption{drpc.WithStats(&panickyStats{onFinish: true})}, &panicky{}},
		{"Stats.ServerEvent", []drpc.ServerOption{drpc.WithStats(&panickyStats{onEvent: true})}, &panicky{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startServer(t, tc.opts...)
			require.NoError(t, srv.RegisterRPCModule(tc.mod))
			c := connect(t, srv)
			for range 2 {
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: 7, Method: 701})
				require.NoError(t, err, "the session survives")
				if tc.name != "Stats.CallFinished" && tc.name != "Stats.ServerEvent" {
					assert.Equal(t, drpc.StatusFailure, resp.Status)
				}
				resp, err = c.SendMsg(context.Background(), &drpc.Call{Module: 7, Method: 702})
				require.NoError(t, err)
				assert.Equal(t, drpc.StatusSuccess, resp.Status)
				assert.Equal(t, "ok", string(resp.Body))
			}
			echo(t, c, "the session goes on")
			serverWorks(t, srv)
		})
	}
}

type panickyStats struct {
	onStart, onFinish, onEvent bool
}

func (s *panickyStats) CallStarted(m drpc.Method, _ int) {
	if s.onStart && m.ID() == 701 {
		panic("CallStarted bug")
	}
}

func (s *panickyStats) CallFinished(m drpc.Method, _ drpc.Status, _ time.Duration, _ int) {
	if s.onFinish && m.ID() == 701 {
		panic("CallFinished bug")
	}
}

func (s *panickyStats) ServerEvent(drpc.ServerEvent) {
	if s.onEvent {
		panic("ServerEvent bug")
	}
}

// exploding is a module whose every method panics, as registration sees
// it.
type exploding struct{ in string }

func (e exploding) ID() drpc.ModuleID {
	if e.in == "ID" {
		panic("ID bug")
	}
	return 8
}

func (e exploding) String() string {
	if e.in == "String" {
		panic("String bug")
	}
	return "exploding"
}

func (e exploding) GetMethod(drpc.MethodID) (drpc.Method, error) {
	if e.in == "GetMethod" {
		panic("GetMethod bug")
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}

func (exploding) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	return nil, nil
}

func TestRegisterPanickyModule(t *testing.T) {
	// A module whose methods panic while it is checked is refused with an
	// error, not a crash of the caller.
	for _, in := range []string{"ID", "String", "GetMethod"} {
		t.Run(in, func(t *testing.T) {
			srv, _ := startServer(t)
			err := srv.RegisterRPCModule(exploding{in: in})
			require.ErrorIs(t, err, drpc.ErrInvalidModule)
			assert.Contains(t, err.Error(), "panicked")
			serverWorks(t, srv)
		})
	}
}
