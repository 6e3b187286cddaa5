package drpc

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/drpc/internal/protoalias"
)

// minLentField is the smallest bytes field of a reply (ReplyBody) or a
// request (Invoke) that is sent from where it is instead of being copied
// into the encoding: below it, the copy costs less than looking for the
// field and encoding the rest of the message apart.
const minLentField = 64 << 10

// ReplyBody encodes a handler's reply to method m for HandleCall to
// return; generated server adapters use it. It is MarshalReply, with one
// difference that spares a large reply a copy: during a call on session s
// of a server without Interceptors, the reply's largest bytes field of at
// least 64 KiB (at the top level, singular and not in a oneof) is left out
// of the body it returns and sent from the reply's own memory right behind
// it. So:
//   - return the body from HandleCall unchanged: the session recognizes it
//     and sends the field after it (a body that is changed, or another
//     body, is sent as it is, without the field: use MarshalReply to
//     change the encoding);
//   - do not change the reply's bytes after returning it until the call's
//     answer is sent, as the field is read then (a request's field that
//     the reply carries, which aliases the receive buffer, stays valid
//     until then too).
//
// Otherwise (a smaller reply, a nil s, a server with Interceptors, which
// would see a body without the field, or a reply whose other fields are
// repeated, maps or messages) it is MarshalReply. Errors are MarshalReply's.
func ReplyBody(s *Session, m Method, reply proto.Message) ([]byte, error) {
	if reply == nil || s == nil || !s.lendsReply() {
		return MarshalReply(s, m, reply)
	}
	head, tail, err := protoalias.AppendHead(s.replyBuf[:0], reply, minLentField)
	if err != nil {
		return nil, WrapFailure(StatusFailedMarshal,
			fmt.Errorf("reply of %s does not encode: %w", m, err))
	}
	if cap(head) <= maxKeptReply {
		s.replyBuf = head
	}
	if tail != nil {
		s.lent = lentReply{head: head, tail: tail}
	}
	return head, nil
}

// lentReply is a reply that ReplyBody encoded without its largest bytes
// field: head is the body it returned, tail the field's value, which the
// session sends right after it.
type lentReply struct {
	head, tail []byte
}

// lendsReply reports whether ReplyBody may leave a field of the reply out
// of the body it returns: during a call (the dispatcher sets s.module) on a
// server without Interceptors, which would see the body without it.
func (s *Session) lendsReply() bool {
	return s.module != nil && s.env != nil && s.env.disp.handler == nil
}

// takeTail returns the field ReplyBody left out of body, if body is the
// head it returned during the call that just ended, and forgets it.
func (s *Session) takeTail(body []byte) []byte {
	l := s.lent
	s.lent = lentReply{}
	if len(l.head) == 0 || len(body) != len(l.head) || &body[0] != &l.head[0] {
		return nil
	}
	return l.tail
}
