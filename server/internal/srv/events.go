package srv

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// DefaultMaxEvents is how many events Events keeps unless told otherwise.
const DefaultMaxEvents = 100

// MaxKeptEventBytes bounds the encoded size of all the events an Events
// keeps together: the oldest go first when a new one would pass it. With
// events of at most MaxEventBytes (BoundEvent) that is at least 1,024
// events of the largest size, and the status reply that carries them stays
// far below the transport's 64 MiB message limit.
const MaxKeptEventBytes = 16 << 20

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

	size int // proto.Size(RAS), counted against MaxKeptEventBytes
}

// Size returns the encoded size of the event's RAS message, as Add
// counted it (0 for an event that was not added).
func (e Event) Size() int { return e.size }

// Events keeps the last events received, in a ring of at most Cap events
// and MaxKeptEventBytes. It is safe for concurrent use.
type Events struct {
	mu    sync.Mutex
	ring  []Event // len(ring) is the capacity
	head  int     // the oldest event
	n     int     // events kept
	bytes int     // their encoded size
	total uint64  // events added since the start
}

// NewEvents returns an empty log that keeps the last max events (at least
// one; max < 1 means DefaultMaxEvents).
func NewEvents(max int) *Events {
	if max < 1 {
		max = DefaultMaxEvents
	}
	return &Events{ring: make([]Event, max)}
}

// Cap returns how many events the log keeps at most.
// Cap returns how many events the log keeps at most.
func (l *Events) Cap() int { return len(l.ring) }

// Len returns how many events the log holds now (at most Cap).
func (l *Events) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Add stores e, dropping the oldest events if the log is full (in number
// or in bytes). The event's RAS message is copied, so the caller may reuse
// it. An event is kept even if it alone is over MaxKeptEventBytes (bound
// it first with BoundEvent).
func (l *Events) Add(e Event) {
	e.RAS = proto.CloneOf(e.RAS)
	e.size = proto.Size(e.RAS)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	for l.n > 0 && (l.n == len(l.ring) || l.bytes+e.size > MaxKeptEventBytes) {
		l.bytes -= l.ring[l.head].size
		l.ring[l.head] = Event{}
		l.head = (l.head + 1) % len(l.ring)
		l.n--
	}
	l.ring[(l.head+l.n)%len(l.ring)] = e
	l.n++
	l.bytes += e.size
}

// Last returns the last n events, oldest first (every event kept if n < 1),
// and the number of events added since the start.
func (l *Events) Last(n int) ([]Event, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 1 || n > l.n {
		n = l.n
	}
	all := make([]Event, 0, n)
	for i := l.n - n; i < l.n; i++ {
		all = append(all, l.ring[(l.head+i)%len(l.ring)])
	}
	return all, l.total
}
