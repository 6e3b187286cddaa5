package drpc

import "context"

// Interceptor wraps every call a server runs, for logging, authorization,
// tracing or metrics, without touching the modules. It sees the call's
// context, its session (with the peer's credentials), the method and the
// request body; it calls next.HandleCall to run the call (or the next
// interceptor) and sees the reply body or the error. To refuse a call it
// returns a *Failure without calling next.
//
// Interceptors run only for calls to a registered module and a method it
// serves; the server answers other calls itself. The request body is valid
// only until the call returns (see Handler). A panic in an interceptor
// fails that call only.
type Interceptor func(ctx context.Context, s *Session, m Method, body []byte, next Handler) ([]byte, error)

// ClientInterceptor wraps every call a client makes (SendMsg, SendMsgFunc
// and the generated clients). It sees the call (module, method and request
// body) and, after calling next.SendMsg, the response or the error; it may
// also answer without calling next. It must not change call.Body's bytes.
type ClientInterceptor func(ctx context.Context, call *Call, next Sender) (*Response, error)

// handlerFunc is a function as a Handler.
type handlerFunc func(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error)

func (f handlerFunc) HandleCall(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error) {
	return f(ctx, s, m, body)
}

// senderFunc is a function as a Sender.
type senderFunc func(ctx context.Context, call *Call) (*Response, error)

func (f senderFunc) SendMsg(ctx context.Context, call *Call) (*Response, error) { return f(ctx, call) }

// chainHandler returns final wrapped by interceptors, the first outermost;
// final itself if there are none, so that the common case costs nothing.
func chainHandler(interceptors []Interceptor, final Handler) Handler {
	h := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], h
		h = handlerFunc(func(ctx context.Context, s *Session, m Method, body []byte) ([]byte, error) {
			return ic(ctx, s, m, body, next)
		})
	}
	return h
}

// chainSender returns final wrapped by interceptors, the first outermost.
func chainSender(interceptors []ClientInterceptor, final Sender) Sender {
	snd := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], snd
		snd = senderFunc(func(ctx context.Context, call *Call) (*Response, error) {
			return ic(ctx, call, next)
		})
	}
	return snd
}
