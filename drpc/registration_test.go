package drpc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/ids"
)

// tableModule serves the methods in its table: GetMethod(id) returns
// methods[id], whatever that method says about itself. Its calls answer
// the module's name.
type tableModule struct {
	id      drpc.ModuleID
	name    string
	methods map[drpc.MethodID]drpc.Method
}

func (m *tableModule) ID() drpc.ModuleID { return m.id }
func (m *tableModule) String() string    { return m.name }

func (m *tableModule) GetMethod(id drpc.MethodID) (drpc.Method, error) {
	if meth, ok := m.methods[id]; ok {
		return meth, nil
	}
	return nil, drpc.NewFailure(drpc.StatusUnknownMethod, "")
}

func (m *tableModule) HandleCall(context.Context, *drpc.Session, drpc.Method, []byte) ([]byte, error) {
	return []byte(m.name), nil
}

// listedModule is a tableModule that lists its methods (MethodLister), so
// registration checks the list instead of probing GetMethod.
type listedModule struct {
	tableModule
	list []drpc.Method
}

func (m *listedModule) Methods() []drpc.Method { return m.list }

// module returns a tableModule whose GetMethod serves each method under its
// own ID.
func module(id drpc.ModuleID, methods ...drpc.Method) *tableModule {
	m := &tableModule{id: id, name: fmt.Sprintf("module%d", id), methods: map[drpc.MethodID]drpc.Method{}}
	for _, meth := range methods {
		m.methods[meth.ID()] = meth
	}
	return m
}

func listed(id drpc.ModuleID, methods ...drpc.Method) *listedModule {
	return &listedModule{tableModule: *module(id, methods...), list: methods}
}

func unstartedServer(t *testing.T) *drpc.DomainSocketServer {
	t.Helper()
	srv, err := drpc.NewDomainSocketServer(socketPath(t))
	require.NoError(t, err)
	return srv
}

func TestRegisterValidModules(t *testing.T) {
	last := drpc.MethodID(drpc.ModuleID(ids.MaxModuleID))*100 + 99
	tests := []struct {
		name string
		mod  drpc.Module
	}{
		{"no methods", module(1)},
		{"test module 0", module(0, drpc.NewMethod(0, 1, "first"), drpc.NewMethod(0, 99, "last"))},
		{"module 2", module(2, drpc.NewMethod(2, 201, "kill rank"), drpc.NewMethod(2, 252, "x"))},
		{"listed module 3", listed(3, drpc.NewMethod(3, 301, "notify ready"), drpc.NewMethod(3, 399, "last"))},
		{"largest module ID", module(drpc.ModuleID(ids.MaxModuleID), drpc.NewMethod(drpc.ModuleID(ids.MaxModuleID), last, "last"))},
		{"largest module ID, listed", listed(drpc.ModuleID(ids.MaxModuleID), drpc.NewMethod(drpc.ModuleID(ids.MaxModuleID), last, "last"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.NoError(t, unstartedServer(t).RegisterRPCModule(tc.mod))
		})
	}
}

func TestRegisterInvalidModules(t *testing.T) {
	// GetMethod answers for an ID in the module's range with a method that
	// is not that one.
	answers := func(id drpc.ModuleID, asked drpc.MethodID, meth drpc.Method) *tableModule {
		m := module(id)
		m.methods[asked] = meth
		return m
	}
	tests := []struct {
		name string
		mod  drpc.Module
		want string
	}{
		{"nil", nil, "module is nil"},
		{"nil pointer", (*tableModule)(nil), "module is nil (*drpc_test.tableModule)"},
		{"negative ID", module(-1), "has ID -1"},
		{"ID above MaxModuleID", module(drpc.ModuleID(ids.MaxModuleID) + 1), fmt.Sprintf("want 0..%d", drpc.ModuleID(ids.MaxModuleID))},
		{"method below the range", answers(2, 201, drpc.NewMethod(2, 200, "x")), "returns method x (200) for ID 201"},
		{"method above the range", answers(2, 299, drpc.NewMethod(2, 300, "x")), "returns method x (300) for ID 299"},
		{"method of another module's range", answers(2, 201, drpc.NewMethod(2, 301, "x")), "returns method x (301)"},
		{"method that names another module", module(2, drpc.NewMethod(3, 201, "x")), "says it belongs to module 3"},
		{"listed method below the range", listed(2, drpc.NewMethod(2, 200, "x")), "outside the module's range 201..299"},
		{"listed method above the range", listed(2, drpc.NewMethod(2, 201, "ok"), drpc.NewMethod(2, 300, "x")), "outside the module's range 201..299"},
		{"listed method of another module's range", listed(2, drpc.NewMethod(2, 301, "x")), "outside the module's range"},
		{"listed method that names another module", listed(2, drpc.NewMethod(3, 201, "x")), "says it belongs to module 3"},
		{"listed method of module 0 at ID 0", listed(0, drpc.NewMethod(0, 0, "x")), "outside the module's range 1..99"},
		{"listed methods with one ID", listed(2, drpc.NewMethod(2, 201, "a"), drpc.NewMethod(2, 201, "b")), `method "b" has ID 201, which method "a" already has`},
		{"listed nil method", &listedModule{tableModule: *module(2), list: []drpc.Method{nil}}, "lists a nil method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := unstartedServer(t)
			err := srv.RegisterRPCModule(tc.mod)
			require.ErrorIs(t, err, drpc.ErrInvalidModule)
			assert.NotContains(t, err.Error(), "already uses")
			assert.Contains(t, err.Error(), tc.want)
			id := drpc.ModuleID(-1)
			switch m := tc.mod.(type) {
			case *tableModule:
				if m != nil {
					id = m.id
				}
			case *listedModule:
				id = m.id
			}
			if id >= 0 && id <= drpc.ModuleID(ids.MaxModuleID) {
				// A refused module does not take its ID.
				assert.NoError(t, srv.RegisterRPCModule(module(id)))
			}
		})
	}
}

func TestRegisterDuplicateModule(t *testing.T) {
	srv := unstartedServer(t)
	require.NoError(t, srv.RegisterRPCModule(&tableModule{id: 4, name: "security"}))
	err := srv.RegisterRPCModule(&tableModule{id: 4, name: "impostor"})
	require.ErrorIs(t, err, drpc.ErrInvalidModule)
	assert.Contains(t, err.Error(), "already uses")
	assert.Contains(t, err.Error(), "impostor")
	assert.Contains(t, err.Error(), "security")
	assert.ErrorIs(t, srv.RegisterRPCModule(&tableModule{id: 4, name: "security"}), drpc.ErrInvalidModule, "the same module twice")
	assert.NoError(t, srv.RegisterRPCModule(&tableModule{id: 5, name: "other"}))
}

func TestRegisterAfterStart(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	call := &drpc.Call{Module: 7, Method: 701}
	resp, err := c.SendMsg(context.Background(), call)
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusUnknownModule, resp.Status)

	require.NoError(t, srv.RegisterRPCModule(module(7, drpc.NewMethod(7, 701, "seven"))))
	resp, err = c.SendMsg(context.Background(), call)
	require.NoError(t, err, "an open session sees the new module")
	assert.Equal(t, drpc.StatusSuccess, resp.Status)
	assert.Equal(t, "module7", string(resp.Body))

	resp, err = c.SendMsg(context.Background(), &drpc.Call{Module: 7, Method: 702})
	require.NoError(t, err)
	assert.Equal(t, drpc.StatusUnknownMethod, resp.Status)
	echo(t, c, "the echo module still answers")
}

func TestRegisterWhileServing(t *testing.T) {
	srv, _ := startServer(t)
	const modules = 50
	var wg sync.WaitGroup
	for i := 1; i <= modules; i++ {
		wg.Go(func() {
			id := drpc.ModuleID(i)
			assert.NoError(t, srv.RegisterRPCModule(module(id, drpc.NewMethod(id, drpc.MethodID(id)*100+1, "m"))))
		})
	}
	for range 4 {
		wg.Go(func() {
			c := drpc.NewClientConnection(srv.SocketPath())
			if !assert.NoError(t, c.Connect(context.Background())) {
				return
			}
			defer c.Close()
			for i := 1; i <= modules; i++ {
				resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: int32(i), Method: int32(i*100 + 1)})
				if assert.NoError(t, err) {
					assert.Contains(t, []drpc.Status{drpc.StatusSuccess, drpc.StatusUnknownModule}, resp.Status)
				}
			}
		})
	}
	wg.Wait()
	c := connect(t, srv)
	for i := 1; i <= modules; i++ {
		resp, err := c.SendMsg(context.Background(), &drpc.Call{Module: int32(i), Method: int32(i*100 + 1)})
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("module%d", i), string(resp.Body))
	}
}
