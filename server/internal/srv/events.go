package srv

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// DefaultMaxEvents is how many events Events keeps unless told otherwise.
const DefaultMaxEvents = 100

// Event is a RAS event as the server received it.
type Event struct {
	// Received is when the server received it.
	Received time.Time
	// Sequence is the sender's sequence number of the event.
	Sequence uint64
	// PID is the sender's process ID.
	PID int32
	// RAS is the event; it is never changed once stored.
	RAS *srvv1.RASEvent
}

// Events keeps the last events received, in a ring. It is safe for
// concurrent use.
type Events struct {
	mu    sync.Mutex
	ring  []Event
	next  int    // where the next event goes
	total uint64 // events added since the start
}

// NewEvents returns an empty log that keeps the last max events (at least
// one; max < 1 means DefaultMaxEvents).
func NewEvents(max int) *Events {
	if max < 1 {
		max = DefaultMaxEvents
	}
	return &Events{ring: make([]Event, 0, max)}
}

// Cap returns how many events the log keeps at most.
func (l *Events) Cap() int { return cap(l.ring) }

// Len returns how many events the log holds now (at most Cap).
func (l *Events) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ring)
}

// Add stores e, dropping the oldest event if the log is full. The event's
// RAS message is copied, so the caller may reuse it.
func (l *Events) Add(e Event) {
	e.RAS = proto.CloneOf(e.RAS)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
}

// Last returns the last n events, oldest first (every event kept if n < 1),
// and the number of events added since the start.
func (l *Events) Last(n int) ([]Event, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := make([]Event, 0, len(l.ring))
	all = append(all, l.ring[l.next:]...)
	all = append(all, l.ring[:l.next]...)
	if n > 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all, l.total
}
