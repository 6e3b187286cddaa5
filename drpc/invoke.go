package drpc

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
)

// This file holds the small runtime that the generated service code (the
// packages of the api module, made by protoc-gen-go-drpc) calls, so that
// every generated client and server adapter behaves the same way.
// Hand-written modules and clients may use it too.

// Invoke makes one call of method m through s: it encodes req as the call
// body, sends it, and decodes a successful reply's body into reply. If s is
// a FuncSender (a *ClientConnection and a *Pool are), the reply is decoded
// straight from the receive buffer, without a copy of the body; the request
// is encoded into a pooled buffer, so a Sender or ClientInterceptor must not
// keep call.Body after the call returns. A *Pool is also told m, so that it
// sends the call again after a lost answer if m is idempotent (see
// Method); a Sender that wraps a Pool hides m from it.
//
// A nil req (a typed nil pointer) is sent as an empty body, which the server
// decodes as an empty request message. The error is:
//   - the error of s.SendMsg, if no response arrived;
//   - a *Failure with the response's status, if the status is not
//     StatusSuccess (test it with errors.As or errors.Is);
//   - an error wrapping ErrMalformedReply and the decoding error, if the
//     reply body does not decode;
//   - an error wrapping the encoding error, if req cannot be encoded (the
//     call is then not sent).
func Invoke(ctx context.Context, s Sender, m Method, req, reply proto.Message) error {
	buf := requestBufs.Get().(*[]byte)
	defer putRequestBuf(buf)
	body, err := proto.MarshalOptions{}.MarshalAppend((*buf)[:0], req)
	if err != nil {
		return fmt.Errorf("dRPC call %s: encode request: %w", m, err)
	}
	*buf = body
	call := Call{Module: int32(m.Module()), Method: int32(m.ID()), Body: body}
	switch s := s.(type) {
	case methodSender:
		return s.sendMethodFunc(ctx, m, &call, replyDecoder(m, reply))
	case FuncSender:
		return s.SendMsgFunc(ctx, &call, replyDecoder(m, reply))
	}
	resp, err := s.SendMsg(ctx, &call)
	if err != nil {
		return err
	}
	if err := FailureFromResponse(resp); err != nil {
		return err
	}
	return unmarshalReply(m, resp.GetBody(), reply)
}

// replyDecoder returns the function that Invoke has a FuncSender lend the
// response to: a failure's status and reason, or the reply decoded.
func replyDecoder(m Method, reply proto.Message) func(status Status, body []byte) error {
	return func(status Status, body []byte) error {
		if err := failureOf(status, body); err != nil {
			return err
		}
		return unmarshalReply(m, body, reply)
	}
}

func unmarshalReply(m Method, body []byte, reply proto.Message) error {
	if err := proto.Unmarshal(body, reply); err != nil {
		return fmt.Errorf("dRPC call %s: %w as %s: %w", m, ErrMalformedReply, reply.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// methodSender is a Sender that wants to know the Method of a call made
// through Invoke: a *Pool, which resends idempotent methods.
type methodSender interface {
	sendMethodFunc(ctx context.Context, m Method, call *Call, fn func(status Status, body []byte) error) error
}

// requestBufs holds the buffers Invoke encodes requests into.
var requestBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledRequest is the largest buffer put back into the request pool:
// big enough for the bodies a benchmark or a bulk transfer uses, while a
// rare huge message does not pin its memory (and sync.Pool drops what is
// not reused within two garbage collections anyway).
const maxPooledRequest = 16 << 20

// maxKeptReply is the largest reply buffer a session keeps between calls,
// like the receive buffer it sits next to.
const maxKeptReply = 4 << 20

func putRequestBuf(b *[]byte) {
	if cap(*b) > maxPooledRequest {
		*b = nil
	}
	requestBufs.Put(b)
}

// UnmarshalRequest decodes the body of a call to method m into req, for a
// server adapter. An empty body decodes as an empty message. A body that
// does not decode gives a *Failure with StatusFailedUnmarshalPayload that
// wraps the decoding error.
func UnmarshalRequest(m Method, body []byte, req proto.Message) error {
	if err := proto.Unmarshal(body, req); err != nil {
		return WrapFailure(StatusFailedUnmarshalPayload,
			fmt.Errorf("request of %s does not decode as %s: %w", m, req.ProtoReflect().Descriptor().FullName(), err))
	}
	return nil
}

// MarshalReply encodes a handler's reply to method m, for a server
// adapter. The encoding goes into a buffer of session s that is reused for
// the session's next reply, so the body is valid until the reply is sent:
// return it from HandleCall, and do not keep it (neither may an
// Interceptor). With a nil s the body is newly allocated. A nil reply (a
// typed nil pointer) encodes as an empty message. A reply that cannot be
// encoded (a string field that is not valid UTF-8, say) gives a *Failure
// with StatusFailedMarshal that wraps the encoding error.
func MarshalReply(s *Session, m Method, reply proto.Message) ([]byte, error) {
	var buf []byte
	if s != nil {
		buf = s.replyBuf[:0]
	}
	body, err := proto.MarshalOptions{}.MarshalAppend(buf, reply)
	if err != nil {
		return nil, WrapFailure(StatusFailedMarshal,
			fmt.Errorf("reply of %s does not encode: %w", m, err))
	}
	if s != nil && cap(body) <= maxKeptReply {
		s.replyBuf = body
	}
	return body, nil
}
