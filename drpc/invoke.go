package drpc

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/internal/protoalias"
)

// This file holds the small runtime that the generated service code (the
// packages of the api module, made by protoc-gen-go-drpc) calls, so that
// every generated client and server adapter behaves the same way.
// Hand-written modules and clients may use it too.

// Invoke makes one call of method m through s: it encodes req as the call
// body, sends it, and decodes a successful reply's body into reply. If s is
// a FuncSender (a *ClientConnection and a *Pool are), the reply is decoded
// straight from the receive buffer, without a copy of the body. The call and
// its body are pooled (with a *ClientConnection and no interceptors, Invoke
// allocates only what the reply decodes into), so a Sender or
// ClientInterceptor must not keep call or call.Body after the call returns.
// With a *ClientConnection and no interceptors, a large bytes field of req
// (at least 64 KiB, at its top level) is not copied into the body but sent
// from req's own memory. A *Pool is also told m, so that it sends the call
// again after a lost answer if m is idempotent (see Method); a Sender that
// wraps a Pool hides m from it.
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
	inv := getInvocation(m, reply)
	defer inv.release()
	body, tail, err := inv.encode(s, req)
	if err != nil {
		return fmt.Errorf("dRPC call %s: encode request: %w", m, err)
	}
	call := inv.callOf(body)
	if tail != nil {
		return s.(*ClientConnection).sendFuncTail(ctx, call, tail, inv.decode)
	}
	if ms, ok := s.(methodSender); ok {
		return ms.sendMethodFunc(ctx, m, call, inv.decode)
	}
	if fs, ok := s.(FuncSender); ok {
		return fs.SendMsgFunc(ctx, call, inv.decode)
	}
	resp, err := s.SendMsg(ctx, call)
	if err != nil {
		return err
	}
	if err := FailureFromResponse(resp); err != nil {
		return err
	}
	return unmarshalReply(m, resp.GetBody(), reply)
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

// maxKeptReply is the largest reply buffer a session keeps between calls,
// like the receive buffer it sits next to.
const maxKeptReply = 4 << 20

// UnmarshalRequest decodes the body of a call to method m into req, for a
// server adapter. An empty body decodes as an empty message. A body that
// does not decode gives a *Failure with StatusFailedUnmarshalPayload that
// wraps the decoding error.
//
// The request's bytes fields (those at its top level, singular and not in
// a oneof) are not copied: they alias body, which is the session's receive
// buffer, so they are valid only until the handler returns, as body is
// (see Handler). A handler may return them in its reply, which
// MarshalReply encodes before the buffer is reused, but must copy what it
// keeps. Every other field is decoded as proto.Unmarshal decodes it, and
// the request is accepted or refused as proto.Unmarshal would.
func UnmarshalRequest(m Method, body []byte, req proto.Message) error {
	if err := protoalias.Unmarshal(body, req); err != nil {
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
