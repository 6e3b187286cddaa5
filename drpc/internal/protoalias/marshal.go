package protoalias

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendHead appends the encoding of m to b, as proto.MarshalAppend does,
// but leaves m's largest bytes field of at least minTail bytes (at the top
// level, singular and not in a oneof, as Unmarshal aliases them) out of
// it: it appends everything else and then that field's tag and length, and
// returns the field's value as tail. head followed by tail is an encoding
// of m (the field comes last, which protobuf decoders accept in any order),
// so the tail can be sent from where it is instead of being copied behind
// the head.
//
// tail is nil, and head the whole encoding, when m has no such field, or
// when it has fields besides it that a shallow copy cannot carry (repeated
// fields, maps, messages, extensions). err is the encoding's error
// (invalid UTF-8 in a string, a required field not set); head is then b.
func AppendHead(b []byte, m proto.Message, minTail int) (head, tail []byte, err error) {
	// The size first: it is cheap, it rules out most messages, and the
	// encoding uses what it cached.
	if proto.Size(m) < minTail {
		return appendWhole(b, m)
	}
	mr := m.ProtoReflect()
	big, tail, others := tailField(mr, minTail)
	if big == nil {
		return appendWhole(b, m)
	}
	head = b
	if others || len(mr.GetUnknown()) > 0 {
		// The other fields, in a shallow copy that leaves the tail out:
		// m itself may be shared, and is never changed.
		rest := mr.New()
		mr.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd != big {
				rest.Set(fd, v)
			}
			return true
		})
		rest.SetUnknown(mr.GetUnknown())
		if head, err = (proto.MarshalOptions{AllowPartial: true}).MarshalAppend(b, rest.Interface()); err != nil {
			return b, nil, err
		}
	}
	if err := proto.CheckInitialized(m); err != nil {
		return b, nil, err
	}
	head = protowire.AppendTag(head, big.Number(), protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(len(tail)))
	return head, tail, nil
}

// appendWhole appends the encoding of m, whose size proto.Size has just
// computed (and cached in m).
func appendWhole(b []byte, m proto.Message) ([]byte, []byte, error) {
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
	if err != nil {
		return b, nil, err
	}
	return out, nil, nil
}

// tailField returns the field of mr that AppendHead leaves out, and its
// value, and whether mr has other fields set; a nil field if there is
// none, or if mr may hold fields that a shallow copy cannot carry. It
// looks at the fields one by one rather than with Range, whose function
// would be allocated for every reply.
func tailField(mr protoreflect.Message, minTail int) (big protoreflect.FieldDescriptor, tail []byte, others bool) {
	md := mr.Descriptor()
	if md.ExtensionRanges().Len() > 0 {
		return nil, nil, false // Range would have to look for extensions
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !mr.Has(fd) {
			continue
		}
		switch {
		case fd.IsList() || fd.IsMap() || fd.Message() != nil:
			return nil, nil, false
		case aliasable(fd) && len(mr.Get(fd).Bytes()) >= minTail && len(mr.Get(fd).Bytes()) > len(tail):
			others = others || big != nil
			big, tail = fd, mr.Get(fd).Bytes()
		default:
			others = true
		}
	}
	return big, tail, others
}
