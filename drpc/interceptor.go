package drpc

import "context"

// Handler runs one call of a server: it takes the decoded method and the
// marshalled request body and returns the marshalled reply. A *Failure
// error sets the response status; any other error answers STATUS_FAILURE.
type Handler func(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error)

// Interceptor wraps every call a server runs, for logging, authorization,
// tracing or metrics, without touching the modules. It sees the call's
// context, its session (with the peer's credentials), the method and the
// request body; it calls next to run the call (or the next interceptor) and
// sees the reply body or the error. To refuse a call it returns a *Failure
// without calling next.
//
// Interceptors run only for calls to a registered module and a method it
// serves; the server answers other calls itself. The request body is valid
// only until the call returns (see Module.HandleCall). A panic in an
// interceptor fails that call only.
type Interceptor func(ctx context.Context, s *Session, m Method, body []byte, next Handler) ([]byte, error)

// Invoker makes one call of a client and returns its response, as
// ClientConnection.SendMsg does.
type Invoker func(ctx context.Context, call *Call) (*Response, error)

// ClientInterceptor wraps every call a client makes (SendMsg, SendMsgFunc
// and the generated clients). It sees the call (module, method and request
// body) and, after calling next, the response or the error; it may also
// answer without calling next. It must not change call.Body's bytes.
type ClientInterceptor func(ctx context.Context, call *Call, next Invoker) (*Response, error)

// chainHandler returns final wrapped by interceptors, the first outermost;
// final itself if there are none, so that the common case costs nothing.
func chainHandler(interceptors []Interceptor, final Handler) Handler {
	h := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], h
		h = func(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error) {
			return ic(ctx, s, m, body, next)
		}
	}
	return h
}

// chainInvoker returns final wrapped by interceptors, the first outermost.
func chainInvoker(interceptors []ClientInterceptor, final Invoker) Invoker {
	inv := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], inv
		inv = func(ctx context.Context, call *Call) (*Response, error) {
			return ic(ctx, call, next)
		}
	}
	return inv
}
