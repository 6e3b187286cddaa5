package drpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

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

func (m panickyMethod) ID() drpc.MethodID     { return m.id }
func (m panickyMethod) Module() drpc.ModuleID { return 7 }
func (m panickyMethod) String() string {
	if m.panic {
		panic("Method.String bug")
	}
	return "m"
}

func (p *panicky) ID() drpc.ModuleID { return 7 }
func (p *panicky) String() string    { return "panicky" }

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
			return next(ctx, s, m, body)
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
