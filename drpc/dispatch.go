package drpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/cc532012/drpc/drpc/internal/envelope"
)

// reply is the response to one call, before it is encoded.
type reply struct {
	sequence int64
	status   Status
	body     []byte // only sent with StatusSuccess
}

// dispatch decodes one call from msg and runs it. The call's body, and so
// possibly the reply's, aliases msg.
func (srv *DomainSocketServer) dispatch(ctx context.Context, s *Session, msg []byte) reply {
	call, err := envelope.DecodeCall(msg)
	if err != nil {
		srv.log.Warn("dRPC call does not decode", "session", s.id, "bytes", len(msg), "err", err)
		return reply{sequence: -1, status: StatusFailedUnmarshalCall}
	}
	body, err := srv.run(ctx, s, call)
	if err != nil {
		status := ErrorToStatus(err)
		srv.log.Debug("dRPC call failed", "session", s.id, "module", call.Module, "method", call.Method, "status", status, "err", err)
		return reply{sequence: call.Sequence, status: status}
	}
	return reply{sequence: call.Sequence, status: StatusSuccess, body: body}
}

// run finds the call's module and method and runs the handler, turning a
// panic into a StatusFailure error.
func (srv *DomainSocketServer) run(ctx context.Context, s *Session, call envelope.Call) (body []byte, err error) {
	mod, ok := srv.registry.lookup(ModuleID(call.Module))
	if !ok {
		return nil, UnknownModuleFailure()
	}
	mid := MethodID(call.Method)
	if !owns(mod.ID(), mid) {
		return nil, UnknownMethodFailure()
	}
	meth, err := mod.GetMethod(mid)
	if err != nil || meth == nil {
		var f *Failure
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, UnknownMethodFailure()
	}
	defer func() {
		if p := recover(); p != nil {
			srv.log.Error("dRPC handler panicked; the call fails, the session goes on",
				"module", mod.String(), "method", meth.String(), "session", s.id,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			body, err = nil, NewFailureWithMessage(fmt.Sprintf("handler %s panicked", meth))
		}
	}()
	return mod.HandleCall(ctx, s, meth, call.Body)
}

// logLevelFor is the level at which a session's end is logged: quietly for
// a client that hung up, loudly for a broken one.
func logLevelFor(err error) slog.Level {
	if errors.Is(err, ErrMalformedPacket) || errors.Is(err, ErrMessageTooLarge) {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
