package drpcopt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/cc532012/drpc/drpc/ids"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
)

// withUnknownOptions rebuilds fd from its descriptor proto decoded without
// any extension known, so that its options hold the dRPC options as unknown
// fields, as a tool that does not link the options package sees them.
func withUnknownOptions(t *testing.T, fd protoreflect.FileDescriptor) protoreflect.FileDescriptor {
	t.Helper()
	data, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
	require.NoError(t, err)
	fdp := new(descriptorpb.FileDescriptorProto)
	require.NoError(t, proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}.Unmarshal(data, fdp))
	out, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	require.NoError(t, err)
	svc := out.Services().Get(0)
	opts := svc.Options().(*descriptorpb.ServiceOptions)
	require.NotEmpty(t, opts.ProtoReflect().GetUnknown(), "the options must be unknown fields")
	return out
}

func TestLoad(t *testing.T) {
	type method struct {
		name       string
		id         int32
		idempotent bool
	}
	tests := []struct {
		name    string
		file    protoreflect.FileDescriptor
		module  int32
		methods []method
	}{
		{"module 0 is set, not absent", testv1.File_drpc_test_v1_test_proto, 0, []method{{"Echo", 1, false}}},
		{"mgmt", mgmtv1.File_drpc_mgmt_v1_mgmt_proto, 2, []method{
			{"SetRank", 202, true}, {"GetAttachInfo", 206, true}, {"PrepShutdown", 218, true}, {"PingRank", 225, true},
			{"PoolEvict", 230, true}, {"NotifyExit", 233, false}, {"NotifyPoolConnect", 235, false}, {"NotifyPoolDisconnect", 236, false},
		}},
	}
	for _, tc := range tests {
		for _, form := range []struct {
			name string
			file func(*testing.T, protoreflect.FileDescriptor) protoreflect.FileDescriptor
		}{
			{"known extensions", func(_ *testing.T, fd protoreflect.FileDescriptor) protoreflect.FileDescriptor { return fd }},
			{"unknown fields", withUnknownOptions},
		} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				services, err := LoadFile(form.file(t, tc.file))
				require.NoError(t, err)
				require.Len(t, services, 1)
				s := services[0]
				assert.True(t, s.HasModuleID)
				assert.Equal(t, tc.module, s.ModuleID)
				assert.Empty(t, s.ReservedMethodIDs)
				require.Len(t, s.Methods, len(tc.methods))
				for i, want := range tc.methods {
					assert.Equal(t, want.name, string(s.Methods[i].Desc.Name()))
					assert.True(t, s.Methods[i].HasID)
					assert.Equal(t, want.id, s.Methods[i].ID)
					assert.Equal(t, want.idempotent, s.Methods[i].Idempotent)
					assert.True(t, s.InRange(want.id))
					byName, ok := s.Method(s.Methods[i].Desc.Name())
					require.True(t, ok)
					assert.Equal(t, s.Methods[i], byName)
				}
				_, ok := s.Method("NoSuchRPC")
				assert.False(t, ok)
			})
		}
	}
}

func TestServiceHelpers(t *testing.T) {
	s := Service{ModuleID: 2, HasModuleID: true, ReservedMethodIDs: []int32{203, 210}}
	tests := []struct {
		id       int32
		inRange  bool
		reserved bool
	}{
		{200, false, false},
		{201, true, false},
		{203, true, true},
		{210, true, true},
		{299, true, false},
		{300, false, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.inRange, s.InRange(tc.id), "InRange(%d)", tc.id)
		assert.Equal(t, tc.reserved, s.IsReserved(tc.id), "IsReserved(%d)", tc.id)
	}
	assert.False(t, Service{}.InRange(1), "no module ID, no range")
	assert.False(t, Service{ModuleID: -1, HasModuleID: true}.InRange(-99))
	assert.False(t, Service{ModuleID: ids.MaxModuleID + 1, HasModuleID: true}.InRange(1))
}
