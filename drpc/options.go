package drpc

import (
	"log/slog"
	"os"
	"time"

	"github.com/cc532012/drpc/drpc/internal/wire"
)

// DefaultMaxMessageSize is the largest message a client or server accepts
// unless WithMaxMessageSize says otherwise: 64 MiB.
const DefaultMaxMessageSize = wire.DefaultMaxMessageSize

// ServerOption configures a DomainSocketServer. The zero configuration is
// the default.
type ServerOption interface {
	applyServer(*serverConfig)
}

// ClientOption configures a ClientConnection. The zero configuration is the
// default.
type ClientOption interface {
	applyClient(*clientConfig)
}

// Option configures both sides: it is a ServerOption and a ClientOption.
type Option interface {
	ServerOption
	ClientOption
}

// transportConfig is what both sides configure the same way.
type transportConfig struct {
	maxMessageSize int
	busyPoll       time.Duration
}

// serverConfig is a server's configuration once its options are applied.
type serverConfig struct {
	transportConfig
	log          *slog.Logger
	mode         os.FileMode
	limits       Limits // resolved: no zero fields
	interceptors []Interceptor
	stats        Stats
}

// clientConfig is a client's configuration once its options are applied.
type clientConfig struct {
	transportConfig
	interceptors []ClientInterceptor
}

func newServerConfig(opts []ServerOption) serverConfig {
	c := serverConfig{
		transportConfig: transportConfig{maxMessageSize: DefaultMaxMessageSize},
		mode:            defaultSocketMode,
	}
	for _, o := range opts {
		if o != nil {
			o.applyServer(&c)
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.limits = c.limits.resolve(c.maxMessageSize)
	return c
}

func newClientConfig(opts []ClientOption) clientConfig {
	c := clientConfig{transportConfig: transportConfig{maxMessageSize: DefaultMaxMessageSize}}
	for _, o := range opts {
		if o != nil {
			o.applyClient(&c)
		}
	}
	return c
}

// bothOption is an Option: it sets what both sides share.
type bothOption func(*transportConfig)

func (f bothOption) applyServer(c *serverConfig) { f(&c.transportConfig) }
func (f bothOption) applyClient(c *clientConfig) { f(&c.transportConfig) }

// serverOption is a ServerOption only.
type serverOption func(*serverConfig)

func (f serverOption) applyServer(c *serverConfig) { f(c) }

// clientOption is a ClientOption only.
type clientOption func(*clientConfig)

func (f clientOption) applyClient(c *clientConfig) { f(c) }

// WithMaxMessageSize bounds the size of a message the receiver accepts, as
// announced in its first chunk header and before anything is allocated for
// it. n <= 0 means DefaultMaxMessageSize.
//
// A server reads and discards the rest of a larger call without buffering
// it and answers STATUS_FAILED_UNMARSHAL_CALL, so the caller learns why and
// the session goes on; a client returns an error wrapping
// ErrMessageTooLarge for a larger response.
func WithMaxMessageSize(n int) Option {
	return bothOption(func(c *transportConfig) {
		if n <= 0 {
			n = DefaultMaxMessageSize
		}
		c.maxMessageSize = n
	})
}

// WithBusyPoll makes that side poll its socket without blocking for up to d
// before it parks in a receive, and then fall back to the normal path. On a
// machine where waking a parked thread dominates a small call's latency,
// this cuts the round trip to a few microseconds, at the price of burning
// a core while it waits: use it only for latency-critical peers that
// exchange calls back to back, on machines with a core to spare. The poll
// adapts: it stops when it does not pay (the answer comes later, or both
// sides share a core) and tries again now and then. d <= 0, the default,
// turns it off. Cancellation, deadlines, hang-up detection and Shutdown
// work the same; they may take up to d longer to notice.
func WithBusyPoll(d time.Duration) Option {
	return bothOption(func(c *transportConfig) { c.busyPoll = max(d, 0) })
}

// WithLogger sets the server's logger; the default discards logs. What a
// peer causes (malformed packets, refused calls and sessions, failed
// calls) is logged at most once per peer uid and kind a minute, with a
// count of what was left out.
func WithLogger(log *slog.Logger) ServerOption {
	return serverOption(func(c *serverConfig) { c.log = log })
}

// defaultSocketMode is the mode of a server's socket file unless
// WithSocketMode says otherwise: only the server's user may connect, as the
// DAOS C library sets it.
const defaultSocketMode os.FileMode = 0o600

// WithSocketMode sets the permissions of the server's socket file (0600
// if not given, as the DAOS C library sets it): 0600 lets only the server's user
// connect, 0666 every local user (the DAOS agent's socket). Only the
// permission bits are used. A server built from an inherited listener does
// not touch the file.
func WithSocketMode(mode os.FileMode) ServerOption {
	return serverOption(func(c *serverConfig) { c.mode = mode.Perm() })
}

// WithLimits bounds what the clients of the server may make it hold:
// sessions, idle time, the time of a message's packets, and receive
// memory. Fields left zero keep their defaults (DefaultLimits); a negative
// field turns that limit off.
func WithLimits(l Limits) ServerOption {
	return serverOption(func(c *serverConfig) { c.limits = l })
}

// WithInterceptor adds interceptors around every call the server runs. They
// chain in the order given, over several WithInterceptor options too: the
// first one added is the outermost.
func WithInterceptor(interceptors ...Interceptor) ServerOption {
	return serverOption(func(c *serverConfig) {
		for _, i := range interceptors {
			if i != nil {
				c.interceptors = append(c.interceptors, i)
			}
		}
	})
}

// WithClientInterceptor adds interceptors around every call the client
// makes (SendMsg, SendMsgFunc and the generated clients). They chain in the
// order given: the first one added is the outermost.
func WithClientInterceptor(interceptors ...ClientInterceptor) ClientOption {
	return clientOption(func(c *clientConfig) {
		for _, i := range interceptors {
			if i != nil {
				c.interceptors = append(c.interceptors, i)
			}
		}
	})
}

// WithStats makes the server report its calls and sessions to s, for
// metrics. The default reports nothing and costs nothing.
func WithStats(s Stats) ServerOption {
	return serverOption(func(c *serverConfig) { c.stats = s })
}
