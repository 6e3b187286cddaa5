package drpc

import "github.com/cc532012/drpc/drpc/internal/wire"

// DefaultMaxMessageSize is the largest message a client or server accepts
// unless WithMaxMessageSize says otherwise: 64 MiB.
const DefaultMaxMessageSize = wire.DefaultMaxMessageSize

// Option configures a ClientConnection or a DomainSocketServer. The zero
// configuration is the default; options that do not apply are ignored.
type Option func(*options)

type options struct {
	maxMessageSize int
	maxSessions    int
}

func newOptions(opts []Option) options {
	o := options{maxMessageSize: DefaultMaxMessageSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithMaxMessageSize bounds the size of a message the receiver accepts, as
// announced in its first chunk header and before anything is allocated for
// it. A larger message is refused and the connection closed. n <= 0 means
// DefaultMaxMessageSize.
func WithMaxMessageSize(n int) Option {
	return func(o *options) {
		if n <= 0 {
			n = DefaultMaxMessageSize
		}
		o.maxMessageSize = n
	}
}

// WithMaxSessions makes a server close new connections beyond n concurrent
// sessions (logging each refusal). n <= 0, the default, means no limit.
func WithMaxSessions(n int) Option {
	return func(o *options) { o.maxSessions = n }
}
