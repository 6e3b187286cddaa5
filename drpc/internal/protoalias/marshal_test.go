package protoalias

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

func TestAppendHead(t *testing.T) {
	mt := shapesType(t)
	fields := mt.Descriptor().Fields()
	big := bytes.Repeat([]byte("tail"), 300)
	small := []byte("small")
	const minTail = 1000

	withUnknown := &drpcv1.Response{Sequence: 3, Body: big}
	withUnknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 5))

	twoBig := mt.New()
	twoBig.Set(fields.ByName("req"), protoreflect.ValueOfBytes(big))
	twoBig.Set(fields.ByName("last"), protoreflect.ValueOfBytes(append(bytes.Clone(big), "longer"...)))
	twoBig.Set(fields.ByName("s"), protoreflect.ValueOfString("text"))
	twoBig.Set(fields.ByName("one_a"), protoreflect.ValueOfBytes(big))

	nested := mt.New()
	nested.Set(fields.ByName("req"), protoreflect.ValueOfBytes(small))
	nested.Set(fields.ByName("opt"), protoreflect.ValueOfBytes(big))
	nested.Mutable(fields.ByName("inner"))

	missingRequired := mt.New()
	missingRequired.Set(fields.ByName("last"), protoreflect.ValueOfBytes(big))

	tests := []struct {
		name     string
		m        proto.Message
		wantTail []byte // nil: the whole encoding is in head
		wantErr  bool
	}{
		{"only the field", &testv1.EchoResponse{Payload: big}, big, false},
		{"after other fields", &drpcv1.Call{Module: 1, Method: 101, Sequence: 9, Body: big}, big, false},
		{"after a string", &anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: big}, big, false},
		{"with unknown fields", withUnknown, big, false},
		{"the largest of two", twoBig.Interface(), twoBig.Get(fields.ByName("last")).Bytes(), false},
		{"too small", &testv1.EchoResponse{Payload: small}, nil, false},
		{"empty", &testv1.EchoResponse{}, nil, false},
		{"nested message besides", nested.Interface(), nil, false},
		{"required field missing", missingRequired.Interface(), nil, true},
		{"wrapper", wrapperspb.Bytes(big), big, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			head, tail, err := AppendHead(prefix, tc.m, minTail)
			if tc.wantErr {
				require.Error(t, err)
				assert.Equal(t, "prefix", string(head))
				_, perr := proto.Marshal(tc.m)
				require.Error(t, perr, "proto.Marshal accepts it")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "prefix", string(head[:6]))
			if tc.wantTail == nil {
				assert.Nil(t, tail)
				got := tc.m.ProtoReflect().New().Interface()
				require.NoError(t, proto.Unmarshal(head[6:], got))
				assert.True(t, proto.Equal(tc.m, got), "head is the whole encoding: %v", got)
				return
			}
			assert.True(t, within(tail, tc.wantTail) && len(tail) == len(tc.wantTail), "the tail is the field's own memory")
			got := tc.m.ProtoReflect().New().Interface()
			require.NoError(t, proto.Unmarshal(append(bytes.Clone(head[6:]), tail...), got))
			assert.True(t, proto.Equal(tc.m, got), "head and tail decode to %v", got)
		})
	}
}

func TestAppendHeadRefusesInvalidUTF8(t *testing.T) {
	m := &anypb.Any{TypeUrl: "\xff", Value: bytes.Repeat([]byte{1}, 2000)}
	_, perr := proto.Marshal(m)
	require.Error(t, perr)
	_, _, err := AppendHead(nil, m, 1000)
	require.Error(t, err)
}
