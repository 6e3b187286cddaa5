package protoalias

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testv1 "github.com/cc532012/drpc/proto/drpc/test/v1"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

// The shapes the generated messages have not: proto2 presence and a
// required bytes field, a oneof of bytes, repeated bytes, a map, a nested
// message with bytes of its own, and a group.
const testFile = `
name: "protoalias_test.proto"
package: "protoalias.test"
syntax: "proto2"
message_type: {
  name: "Shapes"
  field: { name: "req"   number: 1  label: LABEL_REQUIRED type: TYPE_BYTES }
  field: { name: "opt"   number: 2  label: LABEL_OPTIONAL type: TYPE_BYTES }
  field: { name: "s"     number: 3  label: LABEL_OPTIONAL type: TYPE_STRING }
  field: { name: "n"     number: 4  label: LABEL_OPTIONAL type: TYPE_INT64 }
  field: { name: "rep"   number: 5  label: LABEL_REPEATED type: TYPE_BYTES }
  field: { name: "one_a" number: 6  label: LABEL_OPTIONAL type: TYPE_BYTES  oneof_index: 0 }
  field: { name: "one_b" number: 7  label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }
  field: { name: "inner" number: 8  label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".protoalias.test.Shapes.Inner" }
  field: { name: "m"     number: 9  label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".protoalias.test.Shapes.MEntry" }
  field: { name: "grp"   number: 10 label: LABEL_OPTIONAL type: TYPE_GROUP   type_name: ".protoalias.test.Shapes.Grp" }
  field: { name: "last"  number: 11 label: LABEL_OPTIONAL type: TYPE_BYTES }
  nested_type: { name: "Inner" field: { name: "data" number: 1 label: LABEL_OPTIONAL type: TYPE_BYTES } }
  nested_type: {
    name: "MEntry"
    field: { name: "key"   number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field: { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES }
    options: { map_entry: true }
  }
  nested_type: { name: "Grp" field: { name: "g" number: 12 label: LABEL_OPTIONAL type: TYPE_BYTES } }
  oneof_decl: { name: "one" }
}
`

func shapesType(t testing.TB) protoreflect.MessageType {
	t.Helper()
	var fdp descriptorpb.FileDescriptorProto
	require.NoError(t, prototext.Unmarshal([]byte(testFile), &fdp))
	fd, err := protodesc.NewFile(&fdp, nil)
	require.NoError(t, err)
	return dynamicpb.NewMessageType(fd.Messages().ByName("Shapes"))
}

// within reports whether v lies inside b.
func within(v, b []byte) bool {
	if len(v) == 0 || len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(v)) <= lo+uintptr(len(b))
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestUnmarshalAliasesBytesFields(t *testing.T) {
	payload := bytes.Repeat([]byte("payload!"), 1000)
	tests := []struct {
		name  string
		in    proto.Message
		out   func() proto.Message
		bytes func(proto.Message) [][]byte // the fields that must alias the input
	}{
		{
			name:  "echo request, the whole input",
			in:    &testv1.EchoRequest{Payload: payload},
			out:   func() proto.Message { return new(testv1.EchoRequest) },
			bytes: func(m proto.Message) [][]byte { return [][]byte{m.(*testv1.EchoRequest).Payload} },
		},
		{
			name:  "call, body behind other fields",
			in:    &drpcv1.Call{Module: 3, Method: 301, Sequence: 7, Body: payload},
			out:   func() proto.Message { return new(drpcv1.Call) },
			bytes: func(m proto.Message) [][]byte { return [][]byte{m.(*drpcv1.Call).Body} },
		},
		{
			name:  "any, bytes after a string",
			in:    &anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: payload},
			out:   func() proto.Message { return new(anypb.Any) },
			bytes: func(m proto.Message) [][]byte { return [][]byte{m.(*anypb.Any).Value} },
		},
		{
			name:  "bytes value",
			in:    wrapperspb.Bytes(payload),
			out:   func() proto.Message { return new(wrapperspb.BytesValue) },
			bytes: func(m proto.Message) [][]byte { return [][]byte{m.(*wrapperspb.BytesValue).Value} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := marshal(t, tc.in)
			got := tc.out()
			require.NoError(t, Unmarshal(b, got))
			assert.True(t, proto.Equal(tc.in, got), "decoded %v", got)
			for _, v := range tc.bytes(got) {
				assert.True(t, within(v, b), "a bytes field is a copy")
			}
		})
	}
}

func TestUnmarshalShapes(t *testing.T) {
	mt := shapesType(t)
	fields := mt.Descriptor().Fields()
	big := bytes.Repeat([]byte{0xab}, 300)

	m := mt.New()
	m.Set(fields.ByName("req"), protoreflect.ValueOfBytes(big))
	m.Set(fields.ByName("opt"), protoreflect.ValueOfBytes([]byte("optional")))
	m.Set(fields.ByName("s"), protoreflect.ValueOfString("a string"))
	m.Set(fields.ByName("n"), protoreflect.ValueOfInt64(-5))
	rep := m.Mutable(fields.ByName("rep")).List()
	rep.Append(protoreflect.ValueOfBytes([]byte("r1")))
	rep.Append(protoreflect.ValueOfBytes([]byte("r2")))
	m.Set(fields.ByName("one_a"), protoreflect.ValueOfBytes([]byte("oneof bytes")))
	inner := m.Mutable(fields.ByName("inner")).Message()
	inner.Set(inner.Descriptor().Fields().ByName("data"), protoreflect.ValueOfBytes([]byte("inner data")))
	mp := m.Mutable(fields.ByName("m")).Map()
	mp.Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfBytes([]byte("map value")))
	grp := m.Mutable(fields.ByName("grp")).Message()
	grp.Set(grp.Descriptor().Fields().ByName("g"), protoreflect.ValueOfBytes([]byte("group bytes")))
	m.Set(fields.ByName("last"), protoreflect.ValueOfBytes([]byte("the last field")))
	b := marshal(t, m.Interface())

	got := mt.New()
	require.NoError(t, Unmarshal(b, got.Interface()))
	assert.True(t, proto.Equal(m.Interface(), got.Interface()))
	for _, name := range []protoreflect.Name{"req", "opt", "last"} {
		assert.True(t, within(got.Get(fields.ByName(name)).Bytes(), b), "%s is a copy", name)
	}
	for _, name := range []protoreflect.Name{"one_a"} {
		assert.False(t, within(got.Get(fields.ByName(name)).Bytes(), b), "%s (in a oneof) aliases the input", name)
	}
	assert.False(t, within(got.Get(fields.ByName("rep")).List().Get(0).Bytes(), b), "a repeated field aliases the input")

	// The required field, missing: proto.Unmarshal's error, even though
	// the fields are decoded in two steps.
	partial := mt.New()
	partial.Set(fields.ByName("opt"), protoreflect.ValueOfBytes(big))
	b = marshal(t, partial.Interface())
	perr := proto.Unmarshal(b, mt.New().Interface())
	require.Error(t, perr)
	err := Unmarshal(b, mt.New().Interface())
	require.Error(t, err)
	assert.Equal(t, perr.Error(), err.Error())
}

func TestUnmarshalFallsBack(t *testing.T) {
	body := []byte("first")
	twice := protowire.AppendTag(nil, 4, protowire.BytesType)
	twice = protowire.AppendBytes(twice, body)
	twice = protowire.AppendTag(twice, 4, protowire.BytesType)
	twice = protowire.AppendBytes(twice, []byte("second"))

	var c drpcv1.Call
	require.NoError(t, Unmarshal(twice, &c))
	assert.Equal(t, "second", string(c.Body), "the last occurrence wins")

	for _, in := range [][]byte{
		{0x22, 0x05, 'a'},       // truncated body
		{0x08},                  // truncated varint
		{0x00, 0x01},            // field number 0
		{0x22, 0x01, 'a', 0x0c}, // end group without a start
	} {
		perr := proto.Unmarshal(in, new(drpcv1.Call))
		require.Error(t, perr, "%x", in)
		err := Unmarshal(in, new(drpcv1.Call))
		require.Error(t, err, "%x", in)
		assert.Equal(t, perr.Error(), err.Error())
	}
}

func TestUnmarshalResets(t *testing.T) {
	c := &drpcv1.Call{Module: 9, Method: 901, Body: []byte("old")}
	require.NoError(t, Unmarshal(marshal(t, &drpcv1.Call{Body: []byte("new")}), c))
	assert.True(t, proto.Equal(&drpcv1.Call{Body: []byte("new")}, c), "%v", c)
	require.NoError(t, Unmarshal(nil, c))
	assert.True(t, proto.Equal(&drpcv1.Call{}, c), "%v", c)
}

// TestUnmarshalAllocs counts what decoding a large request costs: nothing,
// as its bytes field is neither copied nor boxed to be set.
func TestUnmarshalAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	for _, size := range []int{64, 128 << 10} {
		b := marshal(t, &testv1.EchoRequest{Payload: bytes.Repeat([]byte{1}, size)})
		var req testv1.EchoRequest
		allocs := testing.AllocsPerRun(100, func() {
			if err := Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "size %d", size)
		require.Len(t, req.Payload, size)

		cb := marshal(t, &drpcv1.Call{Module: 1, Method: 101, Sequence: 1, Body: bytes.Repeat([]byte{1}, size)})
		var call drpcv1.Call
		allocs = testing.AllocsPerRun(100, func() {
			if err := Unmarshal(cb, &call); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "call of size %d", size)
	}
}

// FuzzUnmarshal holds Unmarshal to proto.Unmarshal: for any input both
// accept or both reject it, and what they decode is equal.
func FuzzUnmarshal(f *testing.F) {
	mt := shapesType(f)
	f.Add([]byte{0x0a, 0x02, 'h', 'i'})
	f.Add([]byte{0x22, 0x02, 'h', 'i', 0x22, 0x01, 'x'})
	f.Add([]byte{0x08, 0x01, 0x10, 0x65, 0x18, 0x01, 0x22, 0x03, 1, 2, 3})
	f.Add([]byte{0x0a, 0x01, 'a', 0x12, 0x03, 'b', 'c', 'd', 0x32, 0x01, 'o', 0x5a, 0x01, 'z'})
	f.Add([]byte{0x53, 0x62, 0x01, 'g', 0x54, 0x0a, 0x00})
	f.Add([]byte{0x42, 0x03, 0x0a, 0x01, 'i', 0x4a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v'})
	news := []func() proto.Message{
		func() proto.Message { return new(drpcv1.Call) },
		func() proto.Message { return new(drpcv1.Response) },
		func() proto.Message { return new(testv1.EchoRequest) },
		func() proto.Message { return new(anypb.Any) },
		func() proto.Message { return mt.New().Interface() },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, newMsg := range news {
			want, got := newMsg(), newMsg()
			perr := proto.Unmarshal(in, want)
			err := Unmarshal(in, got)
			require.Equal(t, perr == nil, err == nil, "%T: proto.Unmarshal: %v, Unmarshal: %v", want, perr, err)
			if err == nil {
				require.True(t, proto.Equal(want, got), "%T: proto.Unmarshal: %v, Unmarshal: %v", want, want, got)
			}
		}
	})
}
