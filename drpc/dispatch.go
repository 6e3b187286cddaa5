package drpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/cc532012/drpc/drpc/internal/envelope"
	"github.com/cc532012/drpc/drpc/internal/wire"
)

// reply is the response to one call, before it is encoded.
type reply struct {
	sequence int64
	status   Status
	body     []byte // sent with StatusSuccess, or a transport refusal's reason
	tail     []byte // sent after body: a field ReplyBody left out of it

	// For Stats: the method of a call that was started, and when.
	method Method
	start  time.Time
}

// dispatcher runs the calls of a server's sessions: it decodes each call,
// finds its module and method, runs the handler (through the interceptors)
// and reports to Stats. Every call into user code (modules, methods,
// interceptors, Stats) is covered: a panic fails that call only.
type dispatcher struct {
	log      *slog.Logger
	peers    *peerLog // what peers cause
	registry *registry
	handler  Handler // the interceptors around callModule; nil without any
	stats    Stats
}

func newDispatcher(log *slog.Logger, peers *peerLog, reg *registry, interceptors []Interceptor, stats Stats) *dispatcher {
	d := &dispatcher{log: log, peers: peers, registry: reg, stats: stats}
	if len(interceptors) > 0 {
		d.handler = chainHandler(interceptors, handlerFunc(callModule))
	}
	return d
}

// callModule is the last Handler of the interceptor chain: the module of
// the call in flight runs it.
func callModule(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error) {
	return s.module.HandleCall(ctx, s, m, body)
}

// dispatch decodes one call from msg and runs it. The call's body, and so
// possibly the reply's, aliases msg.
func (d *dispatcher) dispatch(ctx context.Context, s *Session, msg []byte) (r reply) {
	call, err := envelope.DecodeCall(msg)
	if err != nil {
		d.peers.write(slog.LevelWarn, s.creds.UID, "call does not decode", "dRPC call does not decode; answering FAILED_UNMARSHAL_CALL",
			"session", s.id, "pid", s.creds.PID, "uid", s.creds.UID, "bytes", len(msg), "err", err)
		d.event(EventMalformedPacket)
		return reply{sequence: -1, status: StatusFailedUnmarshalCall}
	}
	r.sequence = call.Sequence
	entry, ok := d.registry.lookup(ModuleID(call.Module))
	if !ok {
		return d.unknown(s, call, StatusUnknownModule, "no module with this ID is registered", nil)
	}
	mid := MethodID(call.Method)
	if !owns(entry.id, mid) {
		return d.unknown(s, call, StatusUnknownMethod, "the method ID is outside the module's range", nil)
	}

	var meth Method
	defer func() {
		if p := recover(); p != nil {
			d.peers.write(slog.LevelError, s.creds.UID, "panic: "+entry.name, "dRPC call panicked; the call fails, the session goes on",
				"module", entry.name, "method", safeName(meth, mid), "session", s.id,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r.status, r.body, r.tail = StatusFailure, nil, nil
			s.module, s.lent = nil, lentReply{}
		}
	}()
	meth, err = entry.mod.GetMethod(mid)
	if err != nil || meth == nil {
		status := StatusUnknownMethod
		var f *Failure
		if errors.As(err, &f) {
			status = f.Status()
		}
		return d.unknown(s, call, status, "the module does not serve this method", err)
	}
	if d.stats != nil {
		r.method, r.start = meth, time.Now()
		d.stats.CallStarted(meth, len(call.Body))
	}

	var body []byte
	s.module, s.lent = entry.mod, lentReply{}
	if d.handler == nil {
		body, err = entry.mod.HandleCall(ctx, s, meth, call.Body)
	} else {
		body, err = d.handler.HandleCall(ctx, s, meth, call.Body)
	}
	s.module = nil
	tail := s.takeTail(body)
	if err != nil {
		r.status, r.body = StatusOf(err), reasonOf(err)
		if refusedShuttingDown(r.status, r.body) {
			// Only the server's own refusal may say this: a Pool sends
			// a call so refused again, as the server did not run it.
			r.body = append(r.body, " (said by the handler)"...)
		}
		d.logFailure(s, entry.name, meth, r.status, err)
		return r
	}
	r.status, r.body, r.tail = StatusSuccess, body, tail
	return r
}

// unknown answers a call that names no module or method the server serves.
func (d *dispatcher) unknown(s *Session, call envelope.Call, status Status, why string, err error) reply {
	attrs := []any{"session", s.id, "pid", s.creds.PID, "uid", s.creds.UID, "module", call.Module, "method", call.Method, "status", status}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	d.peers.write(slog.LevelInfo, s.creds.UID, "unknown method", "dRPC call refused: "+why, attrs...)
	d.event(EventUnknownMethod)
	return reply{sequence: call.Sequence, status: status}
}

// logFailure logs a handler's failure once, at warn, with what the client
// cannot see: the failure's message and cause.
func (d *dispatcher) logFailure(s *Session, module string, m Method, status Status, err error) {
	attrs := []any{"module", module, "method", m.String(), "status", status, "session", s.id, "pid", s.creds.PID, "uid", s.creds.UID}
	message := err.Error()
	var f *Failure
	if errors.As(err, &f) {
		message = f.Message()
	}
	if message != "" {
		attrs = append(attrs, "message", message)
	}
	if cause := rootCause(err); cause != nil && cause.Error() != message {
		attrs = append(attrs, "cause", cause.Error())
	}
	d.peers.write(slog.LevelWarn, s.creds.UID, "call failed: "+module, "dRPC call failed", attrs...)
}

// rootCause returns the innermost error that err wraps, or nil if it wraps
// none.
func rootCause(err error) error {
	var cause error
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(next) {
		cause = next
	}
	return cause
}

// refuseDropped answers a call that the receiver has dropped without
// buffering it: FAILED_UNMARSHAL_CALL for one above the size limit,
// FAILURE for one that needed more receive memory than the limits allow,
// with the reason, and the call's sequence if its head could be read.
func (d *dispatcher) refuseDropped(s *Session, e *wire.DroppedError) reply {
	head, ok := envelope.DecodeCallHead(e.Head)
	seq := int64(-1)
	if ok {
		seq = head.Sequence
	}
	c := s.creds
	if errors.Is(e, ErrMessageTooLarge) {
		d.peers.write(slog.LevelWarn, c.UID, "message too large", "dRPC call refused: its message is above the size limit", "session", s.id, "pid", c.PID, "uid", c.UID,
			"module", head.Module, "method", head.Method, "bytes", e.Size, "limit", e.Limit)
		d.event(EventMessageTooLarge)
		return reply{
			sequence: seq,
			status:   StatusFailedUnmarshalCall,
			body:     fmt.Appendf(nil, "dRPC call of %d bytes is above the server's limit of %d bytes", e.Size, e.Limit),
		}
	}
	total, byUID := s.account.b.held(c.UID)
	d.peers.write(slog.LevelWarn, c.UID, "over memory limit", "dRPC call refused: the receive memory it needs is over the limit", "session", s.id, "pid", c.PID, "uid", c.UID,
		"module", head.Module, "method", head.Method, "bytes", e.Size, "held_by_uid", byUID, "limit_per_uid", s.account.b.perUID, "held", total, "limit", s.account.b.limit)
	d.event(EventOverMemoryLimit)
	return reply{
		sequence: seq,
		status:   StatusFailure,
		body: fmt.Appendf(nil, "dRPC server holds its limit of receive memory (%d bytes per user, %d in all) and cannot take a call of %d bytes now: retry later, or with fewer calls at once",
			s.account.b.perUID, s.account.b.limit, e.Size),
	}
}

// refuseShuttingDown answers a call that arrived while the server shuts
// down: FAILURE with the reason.
func (d *dispatcher) refuseShuttingDown(s *Session, msg []byte) reply {
	head, _ := envelope.DecodeCallHead(msg)
	d.peers.write(slog.LevelInfo, s.creds.UID, "shutting down", "dRPC call refused: the server is shutting down", "session", s.id, "uid", s.creds.UID, "module", head.Module, "method", head.Method)
	return reply{sequence: head.Sequence, status: StatusFailure, body: []byte(reasonShuttingDown)}
}

const reasonShuttingDown = "dRPC server is shutting down"

// refusedShuttingDown reports whether a response is a server's refusal of
// a call because it shuts down: the server did not run the call.
func refusedShuttingDown(status Status, body []byte) bool {
	return status == StatusFailure && string(body) == reasonShuttingDown
}

// finished reports a sent reply to Stats.
func (d *dispatcher) finished(r *reply) {
	if d.stats == nil || r.method == nil {
		return
	}
	defer d.recoverStats("CallFinished")
	d.stats.CallFinished(r.method, r.status, time.Since(r.start), len(r.body)+len(r.tail))
}

// event reports a server event to Stats.
func (d *dispatcher) event(e ServerEvent) {
	if d.stats == nil {
		return
	}
	defer d.recoverStats("ServerEvent")
	d.stats.ServerEvent(e)
}

func (d *dispatcher) recoverStats(what string) {
	if p := recover(); p != nil {
		d.log.Error("dRPC Stats."+what+" panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// safeName names a method for a log written after user code panicked: its
// String may be what panicked.
func safeName(m Method, id MethodID) (name string) {
	if m == nil {
		return fmt.Sprint(id)
	}
	defer func() {
		if recover() != nil {
			name = fmt.Sprint(id)
		}
	}()
	return m.String()
}
