package drpc

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/internal/protoalias"
)

// invocation is what one Invoke needs besides its arguments, pooled so
// that a call costs no allocation of its own: the Call to send, the buffer
// its request is encoded in, and the function that decodes a lent reply
// (a method value made once: a closure per call would be allocated, as it
// goes through an interface).
type invocation struct {
	call   Call
	buf    []byte
	method Method
	reply  proto.Message
	decode func(status Status, body []byte) error // decodeReply
}

var invocations = sync.Pool{New: func() any {
	inv := new(invocation)
	inv.decode = inv.decodeReply
	return inv
}}

// maxPooledRequest is the largest request buffer kept in the pool: big
// enough for the bodies a benchmark or a bulk transfer uses, while a rare
// huge message does not pin its memory (and sync.Pool drops what is not
// reused within two garbage collections anyway).
const maxPooledRequest = 16 << 20

func getInvocation(m Method, reply proto.Message) *invocation {
	inv := invocations.Get().(*invocation)
	inv.method, inv.reply = m, reply
	return inv
}

// callOf returns the call of inv's method with body, which it keeps as its
// buffer for the next invocation.
func (inv *invocation) callOf(body []byte) *Call {
	inv.buf = body
	inv.call.Module, inv.call.Method, inv.call.Sequence = int32(inv.method.Module()), int32(inv.method.ID()), 0
	inv.call.Body = body
	return &inv.call
}

// encode encodes req into inv's buffer. For a *ClientConnection without
// client interceptors (which would see the call's body without it), a
// large bytes field of req is left out of the encoding and returned as
// tail, for the connection to send from where it is, as ReplyBody does on
// a server.
func (inv *invocation) encode(s Sender, req proto.Message) (body, tail []byte, err error) {
	if cc, ok := s.(*ClientConnection); ok && cc.invoke == nil && req != nil {
		return protoalias.AppendHead(inv.buf[:0], req, minLentField)
	}
	body, err = proto.MarshalOptions{}.MarshalAppend(inv.buf[:0], req)
	return body, nil, err
}

func (inv *invocation) decodeReply(status Status, body []byte) error {
	if err := failureOf(status, body); err != nil {
		return err
	}
	return unmarshalReply(inv.method, body, inv.reply)
}

// release puts inv back in the pool, holding nothing of the call.
func (inv *invocation) release() {
	inv.method, inv.reply, inv.call.Body = nil, nil, nil
	if cap(inv.buf) > maxPooledRequest {
		inv.buf = nil
	}
	invocations.Put(inv)
}
