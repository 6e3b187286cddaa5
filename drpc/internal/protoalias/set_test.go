package protoalias

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"

	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
)

func TestFindBytesFields(t *testing.T) {
	type open struct {
		Name    string `protobuf:"bytes,1,opt,name=name,proto3"`
		Data    []byte `protobuf:"bytes,2,opt,name=data,proto3"`
		Opt     []byte `protobuf:"bytes,3,opt,name=opt,proto3,oneof"`
		Rep     []byte `protobuf:"varint,4,rep,name=rep"`
		Last    []byte `protobuf:"bytes,5,opt,name=last"`
		hidden  []byte `protobuf:"bytes,6,opt,name=hidden"`
		NoTag   []byte
		BadTag  []byte `protobuf:"bytes,x,opt"`
		Strings []string
	}
	type withPresence struct {
		XXX_presence [1]uint32
		Data         []byte `protobuf:"bytes,2,opt,name=data"`
	}
	_ = open{}.hidden
	body, ok := reflect.TypeFor[drpcv1.Call]().FieldByName("Body")
	require.True(t, ok)
	bodyIndex := body.Index[0]
	tests := []struct {
		name string
		t    reflect.Type
		want map[protoreflect.FieldNumber]int
	}{
		{"open struct API", reflect.TypeFor[*open](), map[protoreflect.FieldNumber]int{2: 1, 5: 4}},
		{"presence bits", reflect.TypeFor[*withPresence](), map[protoreflect.FieldNumber]int{}},
		{"not a pointer", reflect.TypeFor[open](), map[protoreflect.FieldNumber]int{}},
		{"not a struct", reflect.TypeFor[*[]byte](), map[protoreflect.FieldNumber]int{}},
		{"generated", reflect.TypeFor[*drpcv1.Call](), map[protoreflect.FieldNumber]int{4: bodyIndex}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := findBytesFields(tc.t)
			got := map[protoreflect.FieldNumber]int{}
			for i, n := range b.nums {
				got[n] = b.field[i]
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, -1, b.index(99))
		})
	}
	assert.Equal(t, bodyIndex, bytesFieldsOf(reflect.TypeFor[*drpcv1.Call]()).index(4), "cached")
}
