package mgmtsvc

import (
	"slices"
	"sync"
	"time"
)

// DefaultMaxEvictions is how many evictions an Evictions keeps.
const DefaultMaxEvictions = 100

// EngineEviction is what one engine answered to an eviction.
type EngineEviction struct {
	Index, Rank uint32
	// Count is the number of handles the engine evicted.
	Count int32
	// Status is the engine's PoolEvictResp status.
	Status int32
	// Err is why the engine could not be reached; empty if it answered.
	Err string
}

// Eviction is one PoolEvict the server handled.
type Eviction struct {
	Received time.Time
	// Pool is the pool's UUID; Handles the handles' UUIDs.
	Pool    string
	Handles []string
	// Machine is the host the handles belong to (from the request).
	Machine string
	// Peer is the network address of the caller; PeerName the common name
	// of its certificate (empty without TLS).
	Peer, PeerName string
	// Count is the number of handles evicted, over every engine.
	Count int32
	// Engines are the engines' answers, by index.
	Engines []EngineEviction
}

// Evictions keeps the last evictions, for `drpc-server status`. It is safe
// for concurrent use.
type Evictions struct {
	mu      sync.Mutex
	max     int
	kept    []Eviction // oldest first
	total   uint64
	handles uint64
}

// NewEvictions keeps the last max evictions (DefaultMaxEvictions if max < 1).
func NewEvictions(max int) *Evictions {
	if max < 1 {
		max = DefaultMaxEvictions
	}
	return &Evictions{max: max}
}

// add records an eviction.
func (e *Evictions) add(ev Eviction) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	if ev.Count > 0 {
		e.handles += uint64(ev.Count)
	}
	if len(e.kept) == e.max {
		e.kept = slices.Delete(e.kept, 0, 1)
	}
	e.kept = append(e.kept, ev)
}

// Last returns the evictions kept, oldest first, with the number of
// evictions and of handles evicted since the start.
func (e *Evictions) Last() (kept []Eviction, total, handles uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.kept), e.total, e.handles
}
