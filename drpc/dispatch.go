package drpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/protobuf/proto"
)

// dispatch decodes one call from msg, runs it and fills resp. call and resp
// are the session's own, reused for every call.
func (srv *DomainSocketServer) dispatch(ctx context.Context, s *Session, msg []byte, call *Call, resp *Response) {
	resp.Reset()
	call.Reset()
	if err := proto.Unmarshal(msg, call); err != nil {
		srv.log.Warn("dRPC call does not decode", "session", s.id, "bytes", len(msg), "err", err)
		resp.Sequence = -1
		resp.Status = StatusFailedUnmarshalCall
		return
	}
	resp.Sequence = call.Sequence
	body, err := srv.run(ctx, s, call)
	if err != nil {
		resp.Status = ErrorToStatus(err)
		srv.log.Debug("dRPC call failed", "session", s.id, "module", call.Module, "method", call.Method, "status", resp.Status, "err", err)
		return
	}
	resp.Body = body
}

// run finds the call's module and method and runs the handler, turning a
// panic into a StatusFailure error.
func (srv *DomainSocketServer) run(ctx context.Context, s *Session, call *Call) (body []byte, err error) {
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
