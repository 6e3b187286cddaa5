package host

import (
	"errors"
	"fmt"
	"time"

	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/drpc"
)

// Limits are the configuration keys (under limits:) that bound what the
// clients of a daemon's socket may make it hold, so that one local user
// cannot starve the others: they become the transport's drpc.Limits. A
// value of 0 turns that limit off, except max_message_size.
type Limits struct {
	// MaxSessions bounds the sessions served at once.
	MaxSessions int `yaml:"max_sessions"`
	// MaxSessionsPerUID bounds the sessions of one user; below
	// MaxSessions, so that one user cannot take them all.
	MaxSessionsPerUID int `yaml:"max_sessions_per_uid"`
	// IdleTimeout closes a session that waits this long for a call.
	IdleTimeout config.Duration `yaml:"idle_timeout"`
	// MessageTimeout closes a session whose message of several packets
	// takes longer than this from its first packet to its last.
	MessageTimeout config.Duration `yaml:"message_timeout"`
	// MaxMessageSize bounds the size of a call.
	MaxMessageSize config.Size `yaml:"max_message_size"`
	// MaxReceiveMemory bounds the receive buffers of all sessions.
	MaxReceiveMemory config.Size `yaml:"max_receive_memory"`
	// MaxReceiveMemoryPerUID bounds the receive buffers of the sessions of
	// one user; at least max_message_size, or the largest call never fits.
	MaxReceiveMemoryPerUID config.Size `yaml:"max_receive_memory_per_uid"`
}

// DefaultLimits returns the transport's default limits, as configuration
// keys.
func DefaultLimits() Limits {
	d := drpc.DefaultLimits()
	return Limits{
		MaxSessions:            d.MaxSessions,
		MaxSessionsPerUID:      d.MaxSessionsPerUID,
		IdleTimeout:            config.Duration(d.IdleTimeout),
		MessageTimeout:         config.Duration(d.MessageTimeout),
		MaxMessageSize:         config.Size(drpc.DefaultMaxMessageSize),
		MaxReceiveMemory:       config.Size(d.MaxReceiveMemory),
		MaxReceiveMemoryPerUID: config.Size(d.MaxReceiveMemoryPerUID),
	}
}

// Validate checks the limits, with messages that name the key.
func (l Limits) Validate() error {
	var errs []error
	for _, c := range []struct {
		key string
		neg bool
	}{
		{"max_sessions", l.MaxSessions < 0},
		{"max_sessions_per_uid", l.MaxSessionsPerUID < 0},
		{"idle_timeout", l.IdleTimeout < 0},
		{"message_timeout", l.MessageTimeout < 0},
		{"max_receive_memory", l.MaxReceiveMemory < 0},
		{"max_receive_memory_per_uid", l.MaxReceiveMemoryPerUID < 0},
	} {
		if c.neg {
			errs = append(errs, fmt.Errorf("limits.%s: negative: use 0 to turn the limit off", c.key))
		}
	}
	if l.MaxMessageSize <= 0 {
		errs = append(errs, fmt.Errorf("limits.max_message_size: %s: want a positive size, such as the default %s", l.MaxMessageSize, config.Size(drpc.DefaultMaxMessageSize)))
	}
	if l.MaxSessions > 0 && l.MaxSessionsPerUID > l.MaxSessions {
		errs = append(errs, fmt.Errorf("limits.max_sessions_per_uid: %d is above max_sessions (%d): one user could take every session", l.MaxSessionsPerUID, l.MaxSessions))
	}
	for _, m := range []struct {
		key string
		v   config.Size
	}{{"max_receive_memory", l.MaxReceiveMemory}, {"max_receive_memory_per_uid", l.MaxReceiveMemoryPerUID}} {
		if m.v > 0 && m.v < l.MaxMessageSize {
			errs = append(errs, fmt.Errorf("limits.%s: %s is below max_message_size (%s): the largest call could never be received", m.key, m.v, l.MaxMessageSize))
		}
	}
	return errors.Join(errs...)
}

// transport returns the limits as the transport takes them: 0 (off)
// becomes negative, which the transport reads as off.
func (l Limits) transport() drpc.Limits {
	off := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	return drpc.Limits{
		MaxSessions:            int(off(int64(l.MaxSessions))),
		MaxSessionsPerUID:      int(off(int64(l.MaxSessionsPerUID))),
		IdleTimeout:            time.Duration(off(int64(l.IdleTimeout))),
		MessageTimeout:         time.Duration(off(int64(l.MessageTimeout))),
		MaxReceiveMemory:       off(int64(l.MaxReceiveMemory)),
		MaxReceiveMemoryPerUID: off(int64(l.MaxReceiveMemoryPerUID)),
	}
}
