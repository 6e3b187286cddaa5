package drpc

import (
	"fmt"

	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what the clients of a server may make it hold, so that a
// local user who can reach its socket cannot starve its other users
// (WithLimits). Zero fields mean the defaults of DefaultLimits; a negative
// field turns that limit off.
type Limits struct {
	// MaxSessions bounds the sessions the server serves at once. A client
	// that connects beyond it has its first call answered with
	// STATUS_FAILURE and a reason that names the limit, and is then
	// disconnected.
	MaxSessions int
	// MaxSessionsPerUID bounds the sessions of the processes of one user
	// (the peer's uid, from SO_PEERCRED), refused the same way; keep it
	// below MaxSessions so that one user cannot take every session.
	MaxSessionsPerUID int
	// IdleTimeout closes a session that has waited this long for its next
	// call (within a quarter more). A call that arrives meanwhile is still
	// answered; a client that sends after the close gets EPIPE, and a
	// ClientConnection reports that its call was not sent.
	IdleTimeout time.Duration
	// MessageTimeout bounds the time between the first and the last packet
	// of a message of several packets; a client slower than that is
	// disconnected.
	MessageTimeout time.Duration
	// MaxReceiveMemory bounds the receive buffers of all sessions: the
	// messages being received and handled, and the buffers kept for the
	// next one. A buffer grows with the bytes that arrive, never to the
	// size a packet declares; a call that would need more is read and
	// dropped without being buffered, and answered with STATUS_FAILURE and
	// a reason. The default is 4 times the message size limit (256 MiB).
	MaxReceiveMemory int64
	// MaxReceiveMemoryPerUID bounds the receive buffers of the sessions of
	// one user, the same way. The default is the message size limit and
	// 1 MiB more (65 MiB), so that the largest message fits.
	MaxReceiveMemoryPerUID int64
}

// The defaults of Limits that do not depend on the message size limit.
const (
	defaultMaxSessions       = 4096
	defaultMaxSessionsPerUID = 1024
	defaultIdleTimeout       = 2 * time.Minute
	defaultMessageTimeout    = 10 * time.Second
)

// DefaultLimits returns the limits of a server that uses the default
// message size limit.
func DefaultLimits() Limits {
	return Limits{}.resolve(DefaultMaxMessageSize)
}

// resolve returns l with its zero fields set to their defaults for a
// message size limit of maxMessage bytes.
func (l Limits) resolve(maxMessage int) Limits {
	orInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	orDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	orMem := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	orInt(&l.MaxSessions, defaultMaxSessions)
	orInt(&l.MaxSessionsPerUID, defaultMaxSessionsPerUID)
	orDur(&l.IdleTimeout, defaultIdleTimeout)
	orDur(&l.MessageTimeout, defaultMessageTimeout)
	orMem(&l.MaxReceiveMemory, 4*int64(maxMessage))
	orMem(&l.MaxReceiveMemoryPerUID, int64(maxMessage)+1<<20)
	return l
}

// sessionCounts counts the sessions of a server, in all and by uid; the
// server's mutex guards it.
type sessionCounts struct {
	all   int
	byUID map[uint32]int
}

// refusal returns why a new session of uid is over the limits, or "".
func (c *sessionCounts) refusal(l Limits, uid uint32) string {
	switch {
	case l.MaxSessions > 0 && c.all >= l.MaxSessions:
		return fmt.Sprintf("serves its limit of %d sessions", l.MaxSessions)
	case l.MaxSessionsPerUID > 0 && c.byUID[uid] >= l.MaxSessionsPerUID:
		return fmt.Sprintf("serves its limit of %d sessions per user to uid %d", l.MaxSessionsPerUID, uid)
	}
	return ""
}

func (c *sessionCounts) add(uid uint32, n int) {
	if c.byUID == nil {
		c.byUID = make(map[uint32]int)
	}
	c.all += n
	if c.byUID[uid] += n; c.byUID[uid] <= 0 {
		delete(c.byUID, uid)
	}
}

// memoryBudget accounts the receive buffers of a server's sessions, in all
// and by uid, against its Limits. Buffers grow rarely (a connection keeps
// one the size of its messages), so one mutex serves.
type memoryBudget struct {
	limit, perUID int64 // <= 0: no limit

	mu    sync.Mutex
	total int64
	byUID map[uint32]int64
	peak  int64 // of total since the memory was last given back

	releasing atomic.Bool // a giveBack runs
	lastGive  atomic.Int64
}

func newMemoryBudget(l Limits) *memoryBudget {
	return &memoryBudget{limit: l.MaxReceiveMemory, perUID: l.MaxReceiveMemoryPerUID, byUID: make(map[uint32]int64)}
}

// account returns the wire.Allowance of a session of uid.
func (b *memoryBudget) account(uid uint32) *uidAccount {
	return &uidAccount{b: b, uid: uid}
}

// grow grants n more bytes to uid, if both limits allow them.
func (b *memoryBudget) grow(uid uint32, n int64, force bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !force && ((b.limit > 0 && b.total+n > b.limit) || (b.perUID > 0 && b.byUID[uid]+n > b.perUID)) {
		return false
	}
	b.total += n
	b.byUID[uid] += n
	b.peak = max(b.peak, b.total)
	return true
}

// giveBackAbove is the peak of receive memory above which the budget gives
// the process's free memory back to the operating system once most of it
// has been released.
const giveBackAbove = 64 << 20

// shrink takes n bytes back from uid.
func (b *memoryBudget) shrink(uid uint32, n int64) {
	b.mu.Lock()
	b.total -= n
	if b.byUID[uid] -= n; b.byUID[uid] <= 0 {
		delete(b.byUID, uid)
	}
	giveBack := b.peak >= giveBackAbove && b.total < b.peak/4
	if giveBack {
		b.peak = b.total
	}
	b.mu.Unlock()
	if giveBack {
		b.giveBack()
	}
}

// giveBack returns the memory that peers made the process take, and have
// released, to the operating system: the runtime would otherwise keep it
// until its next collection, which an idle daemon may not run for minutes.
// At most one runs at a time, and at most one a second.
func (b *memoryBudget) giveBack() {
	now := time.Now().UnixNano()
	if now-b.lastGive.Load() < int64(time.Second) || !b.releasing.CompareAndSwap(false, true) {
		return
	}
	b.lastGive.Store(now)
	go func() {
		defer b.releasing.Store(false)
		debug.FreeOSMemory()
	}()
}

// held returns the bytes held in all and by uid.
func (b *memoryBudget) held(uid uint32) (total, byUID int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total, b.byUID[uid]
}

// uidAccount is the wire.Allowance of one session: it charges the budget
// of its uid.
type uidAccount struct {
	b   *memoryBudget
	uid uint32
}

func (a *uidAccount) Grow(n int) bool { return a.b.grow(a.uid, int64(n), false) }
func (a *uidAccount) Force(n int)     { a.b.grow(a.uid, int64(n), true) }
func (a *uidAccount) Shrink(n int)    { a.b.shrink(a.uid, int64(n)) }
