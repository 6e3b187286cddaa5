package envelope

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the envelope messages (drpc.v1.Call and drpc.v1.Response).
const (
	callModule   protowire.Number = 1
	callMethod   protowire.Number = 2
	callSequence protowire.Number = 3
	callBody     protowire.Number = 4

	respSequence protowire.Number = 1
	respStatus   protowire.Number = 2
	respBody     protowire.Number = 3
)

// ErrInvalid is wrapped by every decoding error.
var ErrInvalid = errors.New("invalid protobuf envelope")

// Call is a decoded Call. Body aliases the decoded bytes.
type Call struct {
	Module   int32
	Method   int32
	Sequence int64
	Body     []byte
}

// Response is a decoded Response. Body aliases the decoded bytes.
type Response struct {
	Sequence int64
	Status   int32
	Body     []byte
}

// AppendCallHead appends the encoding of a Call up to its body: the head that,
// followed by a body of bodyLen bytes, is what proto.Marshal produces.
func AppendCallHead(dst []byte, module, method int32, sequence int64, bodyLen int) []byte {
	dst = appendVarintField(dst, callModule, uint64(int64(module)))
	dst = appendVarintField(dst, callMethod, uint64(int64(method)))
	dst = appendVarintField(dst, callSequence, uint64(sequence))
	return appendBodyHead(dst, callBody, bodyLen)
}

// AppendResponseHead appends the encoding of a Response up to its body.
func AppendResponseHead(dst []byte, sequence int64, status int32, bodyLen int) []byte {
	dst = appendVarintField(dst, respSequence, uint64(sequence))
	dst = appendVarintField(dst, respStatus, uint64(int64(status)))
	return appendBodyHead(dst, respBody, bodyLen)
}

// appendVarintField appends a varint field; proto3 leaves out zero values.
func appendVarintField(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

// appendBodyHead appends the tag and length of a bytes field; an empty one
// is left out.
func appendBodyHead(dst []byte, num protowire.Number, n int) []byte {
	if n == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(n))
}

// DecodeCall decodes a Call. As proto.Unmarshal does, it keeps the last of
// repeated fields, skips unknown fields, and treats a known field with an
// unexpected wire type as unknown.
func DecodeCall(b []byte) (Call, error) {
	var c Call
	err := decode(b, func(num protowire.Number, v uint64, body []byte) {
		switch num {
		case callModule:
			c.Module = int32(v)
		case callMethod:
			c.Method = int32(v)
		case callSequence:
			c.Sequence = int64(v)
		case callBody:
			c.Body = body
		}
	}, callBody)
	if err != nil {
		return Call{}, fmt.Errorf("decode dRPC call: %w", err)
	}
	return c, nil
}

// DecodeResponse decodes a Response, with the rules of DecodeCall.
func DecodeResponse(b []byte) (Response, error) {
	var r Response
	err := decode(b, func(num protowire.Number, v uint64, body []byte) {
		switch num {
		case respSequence:
			r.Sequence = int64(v)
		case respStatus:
			r.Status = int32(v)
		case respBody:
			r.Body = body
		}
	}, respBody)
	if err != nil {
		return Response{}, fmt.Errorf("decode dRPC response: %w", err)
	}
	return r, nil
}

// decode walks the fields of b. Varint fields other than bodyNum and the
// bytes field bodyNum are passed to set; everything else is skipped.
func decode(b []byte, set func(num protowire.Number, v uint64, body []byte), bodyNum protowire.Number) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrInvalid, protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("%w: field number %d is above the largest valid one", ErrInvalid, num)
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && num != bodyNum:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrInvalid, num, protowire.ParseError(n))
			}
			set(num, v, nil)
			b = b[n:]
		case typ == protowire.BytesType && num == bodyNum:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrInvalid, num, protowire.ParseError(n))
			}
			set(num, 0, v)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrInvalid, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

// DecodeCallHead decodes the fields of a Call that precede its body from
// the first bytes of an encoded Call, as a receiver keeps of a message it
// drops. It stops at the body field and reports whether every field before
// it was complete; fields in another order than the canonical one (which
// every known peer writes) may be missed.
func DecodeCallHead(b []byte) (Call, bool) {
	var c Call
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return c, false
		}
		if num == callBody || typ != protowire.VarintType {
			return c, true
		}
		b = b[n:]
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return c, false
		}
		b = b[n:]
		switch num {
		case callModule:
			c.Module = int32(v)
		case callMethod:
			c.Method = int32(v)
		case callSequence:
			c.Sequence = int64(v)
		}
	}
	return c, true
}
