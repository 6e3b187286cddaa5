package protoalias

import (
	"reflect"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// setBytes sets field fd of m to v, without a copy. For a message generated
// with the open struct API (protoc-gen-go's default: exported fields, no
// presence bits beside them) it assigns the struct field, as a user's
// m.Payload = v does; protoreflect's Set, used for every other message
// (dynamic ones, generated ones with the opaque or hybrid API), costs
// several times as much and allocates, as it boxes the slice for package
// reflect.
func setBytes(m proto.Message, fd protoreflect.FieldDescriptor, v []byte) {
	if i := bytesFieldsOf(reflect.TypeOf(m)).index(fd.Number()); i >= 0 {
		reflect.ValueOf(m).Elem().Field(i).SetBytes(v)
		return
	}
	m.ProtoReflect().Set(fd, protoreflect.ValueOfBytes(v))
}

// bytesFields lists the struct fields of a generated message type that hold
// singular bytes fields, by field number.
type bytesFields struct {
	nums  []protoreflect.FieldNumber
	field []int // the struct field's index, for nums[i]
}

// index returns the struct field that holds field number num, or -1.
func (b *bytesFields) index(num protoreflect.FieldNumber) int {
	for i, n := range b.nums {
		if n == num {
			return b.field[i]
		}
	}
	return -1
}

// structFields caches bytesFields by the message's Go type (a pointer).
var structFields sync.Map

func bytesFieldsOf(t reflect.Type) *bytesFields {
	if b, ok := structFields.Load(t); ok {
		return b.(*bytesFields)
	}
	b, _ := structFields.LoadOrStore(t, findBytesFields(t))
	return b.(*bytesFields)
}

var bytesType = reflect.TypeFor[[]byte]()

// findBytesFields finds the exported []byte fields of the struct t points
// to whose protobuf struct tag ("bytes,N,opt,name=x,proto3") gives a field
// number and no oneof. A struct with presence bits (XXX_presence: the
// opaque and hybrid APIs) gets none, as assigning a field would not set its
// bit; so does anything that is not a pointer to a struct.
func findBytesFields(t reflect.Type) *bytesFields {
	b := new(bytesFields)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return b
	}
	st := t.Elem()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Name == "XXX_presence" {
			return new(bytesFields)
		}
		if !f.IsExported() || f.Type != bytesType {
			continue
		}
		parts := strings.Split(f.Tag.Get("protobuf"), ",")
		if len(parts) < 2 || parts[0] != "bytes" || strings.Contains(f.Tag.Get("protobuf"), ",oneof") {
			continue
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil || n <= 0 {
			continue
		}
		b.nums = append(b.nums, protoreflect.FieldNumber(n))
		b.field = append(b.field, i)
	}
	return b
}
