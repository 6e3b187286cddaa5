package drpc

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// peerLogInterval is how often a server logs one kind of event that one
// peer uid causes; the events between are counted and summed up.
var peerLogInterval = time.Minute

// peerLog writes the records that peers cause (malformed packets, refused
// and failed calls, refused and timed-out sessions) at most once per peer
// uid and kind per interval, so that a local user cannot flood the log: the
// first of a kind is logged, the others until the interval ends are
// counted, and a summary line then says how many were left out.
type peerLog struct {
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	entries map[peerLogKey]*peerLogEntry
}

type peerLogKey struct {
	uid  uint32
	kind string
}

type peerLogEntry struct {
	until      time.Time // the end of the interval started by the last record
	level      slog.Level
	suppressed int
	timer      *time.Timer // summary of the suppressed records, when there are any
}

// maxPeerLogEntries bounds the entries kept; older ones are dropped when it
// is reached.
const maxPeerLogEntries = 4096

func newPeerLog(log *slog.Logger) *peerLog {
	return &peerLog{log: log, interval: peerLogInterval, entries: make(map[peerLogKey]*peerLogEntry)}
}

// write logs the record msg of kind caused by a peer of uid, unless one of
// that kind and uid was logged less than an interval ago.
func (p *peerLog) write(level slog.Level, uid uint32, kind, msg string, attrs ...any) {
	if !p.log.Enabled(context.Background(), level) {
		return
	}
	key := peerLogKey{uid, kind}
	now := time.Now()
	p.mu.Lock()
	e := p.entries[key]
	if e != nil && now.Before(e.until) {
		e.suppressed++
		if e.timer == nil {
			e.timer = time.AfterFunc(e.until.Sub(now), func() { p.summarize(key) })
		}
		p.mu.Unlock()
		return
	}
	if e == nil {
		if len(p.entries) >= maxPeerLogEntries {
			p.dropExpired(now)
		}
		e = &peerLogEntry{}
		p.entries[key] = e
	}
	e.until, e.level = now.Add(p.interval), level
	p.mu.Unlock()
	p.log.Log(context.Background(), level, msg, attrs...)
}

// summarize logs how many records of key were left out, and forgets them.
func (p *peerLog) summarize(key peerLogKey) {
	p.mu.Lock()
	e := p.entries[key]
	if e == nil {
		p.mu.Unlock()
		return
	}
	n, level := e.suppressed, e.level
	e.suppressed, e.timer = 0, nil
	p.mu.Unlock()
	if n > 0 {
		p.log.Log(context.Background(), level, "dRPC: more records of this kind from this peer were left out",
			"kind", key.kind, "uid", key.uid, "left_out", n, "interval", p.interval.String())
	}
}

// flush logs the summaries that are due, at once: the server stops.
func (p *peerLog) flush() {
	p.mu.Lock()
	var keys []peerLogKey
	for k, e := range p.entries {
		if e.timer != nil && e.timer.Stop() {
			keys = append(keys, k)
		}
	}
	p.mu.Unlock()
	for _, k := range keys {
		p.summarize(k)
	}
}

// dropExpired forgets the entries whose interval has ended and that wait
// for no summary. The caller holds p.mu.
func (p *peerLog) dropExpired(now time.Time) {
	for k, e := range p.entries {
		if e.timer == nil && !now.Before(e.until) {
			delete(p.entries, k)
		}
	}
}
