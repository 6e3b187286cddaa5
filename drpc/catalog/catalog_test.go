package catalog

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/ids"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

var (
	echoReq  = (*testv1.EchoRequest)(nil).ProtoReflect().Type()
	echoResp = (*testv1.EchoResponse)(nil).ProtoReflect().Type()
	credReq  = (*authv1.GetCredReq)(nil).ProtoReflect().Type()
	credResp = (*authv1.GetCredResp)(nil).ProtoReflect().Type()
)

// entry returns a valid entry of service svc with the echo messages.
func entry(module drpc.ModuleID, method drpc.MethodID, svc protoreflect.FullName, name protoreflect.Name) Entry {
	return Entry{ModuleID: module, MethodID: method, Service: svc, MethodName: name, Request: echoReq, Response: echoResp}
}

// idempotent returns e marked idempotent.
func idempotent(e Entry) Entry {
	e.Idempotent = true
	return e
}

func TestRegister(t *testing.T) {
	echo := entry(0, 1, "drpc.test.v1.TestService", "Echo")
	tests := []struct {
		name      string
		entries   []Entry
		want      []Entry // All() afterwards
		conflicts int
		message   string // in Err() if conflicts > 0
	}{
		{"one entry", []Entry{echo}, []Entry{echo}, 0, ""},
		{"ordered by module and method", []Entry{entry(2, 225, "m.S", "C"), entry(0, 2, "t.S", "B"), entry(2, 202, "m.S", "A")},
			[]Entry{entry(0, 2, "t.S", "B"), entry(2, 202, "m.S", "A"), entry(2, 225, "m.S", "C")}, 0, ""},
		{"identical entry twice", []Entry{echo, echo}, []Entry{echo}, 0, ""},
		{"same method ID, another name", []Entry{echo, entry(0, 1, "drpc.test.v1.TestService", "Other")}, []Entry{echo}, 1,
			`method "drpc.test.v1.TestService.Other" has ID 1, which method "drpc.test.v1.TestService.Echo" already has: method IDs must be unique`},
		{"same method ID, other messages", []Entry{echo, {ModuleID: 0, MethodID: 1, Service: "drpc.test.v1.TestService", MethodName: "Echo", Request: credReq, Response: credResp}},
			[]Entry{echo}, 1, "drpc.test.v1.TestService.Echo (method ID 1) is registered with messages drpc.test.v1.EchoRequest and drpc.test.v1.EchoResponse, and again with drpc.auth.v1.GetCredReq and drpc.auth.v1.GetCredResp"},
		{"same method, idempotent differs", []Entry{echo, idempotent(echo)}, []Entry{echo}, 1,
			"drpc.test.v1.TestService.Echo (method ID 1) is registered as idempotent=false, and again as idempotent=true"},
		{"idempotent entry twice", []Entry{idempotent(echo), idempotent(echo)}, []Entry{idempotent(echo)}, 0, ""},
		{"same module ID, another service", []Entry{echo, entry(0, 2, "other.v1.Service", "Echo")}, []Entry{echo}, 1,
			`module "other.v1.Service" has ID 0, which module "drpc.test.v1.TestService" already has: module IDs must be unique`},
		{"method ID outside the module's range", []Entry{entry(1, 201, "a.S", "M")}, nil, 1, `method "a.S.M" of module 1 has ID 201, outside the module's range 101..199`},
		{"method ID 0 of module 0", []Entry{entry(0, 0, "a.S", "M")}, nil, 1, "outside the module's range 1..99"},
		{"negative module ID", []Entry{entry(-1, 1, "a.S", "M")}, nil, 1, "belongs to module -1, which is not a valid module ID"},
		{"module ID too large", []Entry{entry(ids.MaxModuleID+1, 1, "a.S", "M")}, nil, 1, "want 0..21474835"},
		{"no names", []Entry{{ModuleID: 1, MethodID: 101, Request: echoReq, Response: echoResp}}, nil, 1, "has no service or method name"},
		{"no types", []Entry{{ModuleID: 1, MethodID: 101, Service: "a.S", MethodName: "M"}}, nil, 1, "has no request or response type"},
		{"a refused entry does not claim its module ID", []Entry{entry(1, 201, "a.S", "M"), entry(1, 101, "b.S", "N")},
			[]Entry{entry(1, 101, "b.S", "N")}, 1, "outside the module's range 101..199"},
		{"conflicts do not stop the others", []Entry{entry(1, 201, "a.S", "M"), echo, entry(0, 1, "b.S", "N")}, []Entry{echo}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatalog()
			require.NotPanics(t, func() { c.register(tc.entries...) })
			assert.Equal(t, tc.want, nilIfEmpty(c.all()))
			err := c.err()
			if tc.conflicts == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrConflict)
			assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), tc.conflicts)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

// TestRegisterRules checks that the ID rules a conflict breaks are those
// of package ids, for callers that branch on them.
func TestRegisterRules(t *testing.T) {
	echo := entry(0, 1, "drpc.test.v1.TestService", "Echo")
	tests := []struct {
		name    string
		entries []Entry
		rule    error
	}{
		{"invalid module ID", []Entry{entry(-1, 1, "a.S", "M")}, ids.ErrInvalidModuleID},
		{"method outside its range", []Entry{entry(1, 1, "a.S", "M")}, ids.ErrMethodOutOfRange},
		{"module ID of another service", []Entry{echo, entry(0, 2, "b.S", "M")}, ids.ErrDuplicateModuleID},
		{"method ID of another method", []Entry{echo, entry(0, 1, "drpc.test.v1.TestService", "Other")}, ids.ErrDuplicateMethodID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatalog()
			c.register(tc.entries...)
			err := c.err()
			require.ErrorIs(t, err, ErrConflict)
			assert.ErrorIs(t, err, tc.rule)
		})
	}
}

func nilIfEmpty(e []Entry) []Entry {
	if len(e) == 0 {
		return nil
	}
	return e
}

func TestLookup(t *testing.T) {
	c := newCatalog()
	echo := entry(0, 1, "drpc.test.v1.TestService", "Echo")
	c.register(echo)
	tests := []struct {
		name   string
		module drpc.ModuleID
		method drpc.MethodID
		found  bool
	}{
		{"registered", 0, 1, true},
		{"unknown method", 0, 2, false},
		{"method of another module", 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := c.lookup(tc.module, tc.method)
			assert.Equal(t, tc.found, ok)
			if tc.found {
				assert.Equal(t, echo, e)
			} else {
				assert.Equal(t, Entry{}, e)
			}
		})
	}
}

func TestEntry(t *testing.T) {
	e := entry(0, 1, "drpc.test.v1.TestService", "Echo")
	assert.Equal(t, protoreflect.FullName("drpc.test.v1.TestService.Echo"), e.FullMethodName())
	assert.Equal(t, drpc.NewMethod(0, 1, "drpc.test.v1.TestService.Echo"), e.Method())
	e.Idempotent = true
	assert.Equal(t, drpc.NewIdempotentMethod(0, 1, "drpc.test.v1.TestService.Echo"), e.Method())
	e.Idempotent = false

	body, err := proto.Marshal(&testv1.EchoRequest{Payload: []byte("hi")})
	require.NoError(t, err)
	tests := []struct {
		name    string
		decode  func([]byte) (proto.Message, error)
		body    []byte
		want    proto.Message
		wantErr string
	}{
		{"request", e.DecodeRequest, body, &testv1.EchoRequest{Payload: []byte("hi")}, ""},
		{"empty request", e.DecodeRequest, nil, &testv1.EchoRequest{}, ""},
		{"response", e.DecodeResponse, body, &testv1.EchoResponse{Payload: []byte("hi")}, ""},
		{"request that does not decode", e.DecodeRequest, []byte{0x0a, 0x05}, nil,
			"request of drpc.test.v1.TestService.Echo does not decode as drpc.test.v1.EchoRequest"},
		{"response that does not decode", e.DecodeResponse, []byte{0x0a, 0x05}, nil,
			"reply of drpc.test.v1.TestService.Echo does not decode as drpc.test.v1.EchoResponse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decode(tc.body)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, proto.Equal(tc.want, got), "got %v, want %v", got, tc.want)
		})
	}
}

// TestProcessCatalog uses the package functions, on IDs no schema uses.
func TestProcessCatalog(t *testing.T) {
	e := entry(9000, 900001, "test.only.v1.Service", "Method")
	Register(e)
	got, ok := Lookup(9000, 900001)
	require.True(t, ok)
	assert.Equal(t, e, got)
	assert.Contains(t, All(), e)
	require.NoError(t, Err())
}

// TestConcurrentUse registers and reads from many goroutines; run it with
// -race.
func TestConcurrentUse(t *testing.T) {
	c := newCatalog()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := drpc.MethodID(101 + i)
			c.register(entry(1, id, "a.S", protoreflect.Name("M"+string(rune('a'+i)))))
			_, _ = c.lookup(1, id)
			_ = c.all()
			_ = c.err()
		})
	}
	wg.Wait()
	assert.Len(t, c.all(), 20)
	assert.NoError(t, c.err())
	assert.False(t, errors.Is(c.err(), ErrConflict))
}
