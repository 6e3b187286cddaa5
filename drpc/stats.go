package drpc

import "time"

// Stats receives a server's events, for metrics (WithStats). The drpc
// module stays free of any metrics library: the daemons adapt this
// interface to Prometheus. Implementations must be safe for concurrent use
// and quick, since they run on the call path; a panic in one fails the call
// it reports (the server goes on).
type Stats interface {
	// CallStarted reports that a call of method m, with a request body of
	// requestBytes, is about to run. Only calls to a registered module and a
	// method it serves are reported here; the others are
	// EventUnknownMethod.
	CallStarted(m Method, requestBytes int)
	// CallFinished reports that the call has been answered (or that its
	// answer could not be sent): its status, how long it took from the
	// decoded request to the sent reply, and the size of the reply body.
	CallFinished(m Method, status Status, elapsed time.Duration, replyBytes int)
	// ServerEvent reports an event of the server that is not a call of a
	// known method.
	ServerEvent(e ServerEvent)
}

// ServerEvent is an event of a server that Stats counts.
type ServerEvent int

// The events of a server.
const (
	// EventSessionOpened: a client connected and its session started.
	EventSessionOpened ServerEvent = iota + 1
	// EventSessionClosed: a session ended, for whatever reason.
	EventSessionClosed
	// EventSessionRefused: a connection was refused because the server
	// serves its limit of sessions, in all or for the peer's uid
	// (Limits.MaxSessions, Limits.MaxSessionsPerUID).
	EventSessionRefused
	// EventMalformedPacket: a session was closed because its client sent a
	// packet that breaks the framing rules, or a call that does not decode
	// was answered STATUS_FAILED_UNMARSHAL_CALL.
	EventMalformedPacket
	// EventMessageTooLarge: a call above the size limit was discarded and
	// refused (WithMaxMessageSize).
	EventMessageTooLarge
	// EventHangUp: a client hung up while its call was running; the call's
	// context was ended.
	EventHangUp
	// EventUnknownMethod: a call named a module that is not registered or
	// a method that its module does not serve.
	EventUnknownMethod
	// EventOverMemoryLimit: a call was dropped and refused because it
	// needed more receive memory than the limits allow
	// (Limits.MaxReceiveMemory, Limits.MaxReceiveMemoryPerUID).
	EventOverMemoryLimit
	// EventIdleTimeout: a session was closed because it waited longer than
	// Limits.IdleTimeout for a call.
	EventIdleTimeout
	// EventMessageTimeout: a session was closed because the rest of a
	// message did not arrive within Limits.MessageTimeout.
	EventMessageTimeout
)

// String names the event, for logs and metric labels.
func (e ServerEvent) String() string {
	switch e {
	case EventSessionOpened:
		return "session_opened"
	case EventSessionClosed:
		return "session_closed"
	case EventSessionRefused:
		return "session_refused"
	case EventMalformedPacket:
		return "malformed_packet"
	case EventMessageTooLarge:
		return "message_too_large"
	case EventHangUp:
		return "hang_up"
	case EventUnknownMethod:
		return "unknown_method"
	case EventOverMemoryLimit:
		return "over_memory_limit"
	case EventIdleTimeout:
		return "idle_timeout"
	case EventMessageTimeout:
		return "message_timeout"
	}
	return "unknown_event"
}
