package mgmtagent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// Bounds of the cache's fetches.
const (
	// FetchTimeout bounds one fetch from the server, retries over the
	// access points included.
	FetchTimeout = 10 * time.Second
	// MissWait bounds how long a call that finds the cache empty waits for
	// the server; the fetch goes on in the background for later calls.
	MissWait = 3 * time.Second
	// failureTTL is how long a failed fetch answers calls that find the
	// cache empty at once, without asking the server again.
	failureTTL = time.Second
	// minRetry and maxRetry bound the wait before the background refresh
	// tries again after a failure.
	minRetry = time.Second
	maxRetry = 30 * time.Second
)

// ErrNoUpstream: the agent has no server to ask (no access point).
var ErrNoUpstream = errors.New("the agent has no access point to ask the server (access_points is empty)")

// entry is a reply of the server and when it came.
type entry struct {
	resp    *mgmtv1.GetAttachInfoResp
	fetched time.Time
}

// attachCache holds the system's attach info. A hit is an atomic load; a
// miss (nothing cached) fetches at once, one fetch for every caller that
// waits; a background goroutine refreshes the entry every ttl, or at once
// when kicked (SIGUSR2), and keeps the old entry when a refresh fails.
type attachCache struct {
	fetch func(context.Context) (*mgmtv1.GetAttachInfoResp, error)
	ttl   time.Duration // 0: no cache, every call fetches
	log   *slog.Logger
	now   func() time.Time

	cur    atomic.Pointer[entry]
	failed atomic.Pointer[failure] // the last fetch's failure, until one succeeds
	kick   chan struct{}           // asks the refresher to fetch now

	mu       sync.Mutex // guards inflight
	inflight *fetchCall
}

// failure is a failed fetch and when it ended.
type failure struct {
	err error
	at  time.Time
}

// fetchCall is a fetch that callers wait for together.
type fetchCall struct {
	done chan struct{}
	e    *entry
	err  error
}

func newAttachCache(fetch func(context.Context) (*mgmtv1.GetAttachInfoResp, error), ttl time.Duration, log *slog.Logger, now func() time.Time) *attachCache {
	return &attachCache{fetch: fetch, ttl: ttl, log: log, now: now, kick: make(chan struct{}, 1)}
}

// get returns the attach info: the cached entry if there is one (even past
// its ttl: the refresher retries on its own schedule), else a fresh fetch.
func (c *attachCache) get(ctx context.Context) (*mgmtv1.GetAttachInfoResp, error) {
	if c.ttl > 0 {
		if e := c.cur.Load(); e != nil {
			return e.resp, nil
		}
	}
	if f := c.failed.Load(); f != nil && c.now().Sub(f.at) < failureTTL {
		return nil, f.err // the server was just found unreachable: do not wait for it again
	}
	ctx, cancel := context.WithTimeout(ctx, MissWait)
	defer cancel()
	e, err := c.fetchShared(ctx)
	if err != nil {
		return nil, err
	}
	return e.resp, nil
}

// fetchShared fetches once for every caller waiting at the same time, and
// stores the result.
func (c *attachCache) fetchShared(ctx context.Context) (*entry, error) {
	c.mu.Lock()
	call := c.inflight
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		c.inflight = call
		c.mu.Unlock()
		go func() {
			fctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
			defer cancel()
			resp, err := c.fetch(fctx)
			if err == nil {
				call.e = &entry{resp: resp, fetched: c.now()}
				c.store(call.e)
				c.failed.Store(nil)
			} else {
				c.failed.Store(&failure{err: err, at: c.now()})
			}
			call.err = err
			c.mu.Lock()
			c.inflight = nil
			c.mu.Unlock()
			close(call.done)
		}()
	} else {
		c.mu.Unlock()
	}
	select {
	case <-call.done:
		return call.e, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// store keeps e and logs what changed.
func (c *attachCache) store(e *entry) {
	old := c.cur.Swap(e)
	if old == nil || old.resp.GetDataVersion() != e.resp.GetDataVersion() || len(old.resp.GetRankUris()) != len(e.resp.GetRankUris()) {
		c.log.Info("attach info from the server", "system", e.resp.GetSys(), "ranks", len(e.resp.GetRankUris()),
			"data_version", e.resp.GetDataVersion(), "ttl", c.ttl)
	}
}

// refreshSoon asks the refresher to fetch now.
func (c *attachCache) refreshSoon() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run refreshes the entry until ctx ends: at once, then every ttl (or at
// once when kicked); after a failure, again after a growing wait.
func (c *attachCache) run(ctx context.Context) {
	if c.ttl <= 0 {
		return
	}
	retry := minRetry
	var wait time.Duration // the first fetch at once
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-c.kick:
			timer.Stop()
		}
		_, err := c.fetchShared(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			attrs := []any{"err", err, "retry_in", retry}
			if e := c.cur.Load(); e != nil {
				attrs = append(attrs, "serving_from", e.fetched.Format(time.RFC3339))
				c.log.Warn("attach info refresh failed: answering from the last reply", attrs...)
			} else {
				c.log.Warn("attach info fetch failed: clients get -DER_UNREACH until it succeeds", attrs...)
			}
			wait, retry = retry, min(2*retry, maxRetry)
		default:
			wait, retry = c.ttl, minRetry
		}
	}
}
