package mgmtagent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cc532012/drpc/agent/internal/procmon"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// Bounds of the process monitor.
const (
	// MaxProcesses bounds the processes watched (each holds a pidfd).
	MaxProcesses = 16384
	// MaxProcessesPerUID bounds the processes of one uid, so that one user
	// cannot take every place.
	MaxProcessesPerUID = 4096
	// MaxHandlesPerProcess bounds the pool handles of one process.
	MaxHandlesPerProcess = 1024
	// DefaultEvictTimeout is how long the agent keeps trying to evict the
	// handles of a process that exited.
	DefaultEvictTimeout = time.Minute
)

// Errors of the process table.
var (
	// ErrFull: the bounds above are reached.
	ErrFull = errors.New("too many processes or pool handles are watched")
)

// handleKey names a pool handle.
type handleKey struct {
	sys, pool, handle string
}

// process is a client process and its pool handles.
type process struct {
	pid     int32
	uid     uint32
	handles map[handleKey]string // -> its job ID
}

// evictor is what the table needs to evict handles: the server.
type evictor func(ctx context.Context, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error)

// table keeps the client processes' pool handles and evicts those of a
// process that exits without disconnecting.
type table struct {
	watcher *procmon.Watcher
	evict   evictor
	system  string
	machine string
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	procs  map[int32]*process
	perUID map[uint32]int

	evictCtx    context.Context // ends at stop: evictions still running give up
	evictCancel context.CancelFunc
	wg          sync.WaitGroup // evictions running
}

func newTable(evict evictor, system, machine string, timeout time.Duration, log *slog.Logger) *table {
	ctx, cancel := context.WithCancel(context.Background())
	return &table{
		watcher: procmon.New(), evict: evict, system: system, machine: machine, timeout: timeout, log: log,
		procs: make(map[int32]*process), perUID: make(map[uint32]int), evictCtx: ctx, evictCancel: cancel,
	}
}

// add records a pool handle of process pid (of uid) and watches the
// process. If the process has exited already, its handles are evicted at
// once.
func (t *table) add(pid int32, uid uint32, key handleKey, jobid string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		switch {
		case len(t.procs) >= MaxProcesses:
			return fmt.Errorf("%w: %d processes (the most)", ErrFull, len(t.procs))
		case t.perUID[uid] >= MaxProcessesPerUID:
			return fmt.Errorf("%w: %d processes of uid %d (the most per uid)", ErrFull, t.perUID[uid], uid)
		}
		p = &process{pid: pid, uid: uid, handles: make(map[handleKey]string)}
		if err := t.watcher.Watch(pid, func() { t.exited(p) }); err != nil {
			if errors.Is(err, procmon.ErrExited) {
				// Gone before we could watch it (killed during its call):
				// its handle is orphaned already.
				p.handles[key] = jobid
				t.startEviction(p, "the process was gone when its connect arrived")
				return nil
			}
			return err
		}
		t.procs[pid] = p
		t.perUID[uid]++
	}
	if _, ok := p.handles[key]; !ok && len(p.handles) >= MaxHandlesPerProcess {
		return fmt.Errorf("%w: process %d has %d pool handles (the most)", ErrFull, pid, len(p.handles))
	}
	p.handles[key] = jobid
	return nil
}

// remove forgets a pool handle of process pid; a process without handles
// is no longer watched. It reports whether the handle was known.
func (t *table) remove(pid int32, key handleKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return false
	}
	_, ok := p.handles[key]
	delete(p.handles, key)
	if len(p.handles) == 0 {
		t.drop(p)
	}
	return ok
}

// forget forgets every handle of process pid (a clean exit) and returns how
// many there were.
func (t *table) forget(pid int32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return 0
	}
	t.drop(p)
	return len(p.handles)
}

// drop removes p from the table and stops watching it; t.mu is held.
func (t *table) drop(p *process) {
	delete(t.procs, p.pid)
	if t.perUID[p.uid]--; t.perUID[p.uid] <= 0 {
		delete(t.perUID, p.uid)
	}
	t.watcher.Unwatch(p.pid)
}

// exited is called when process p exits: if it is still in the table (it
// did not disconnect nor notify its exit), its handles are evicted.
func (t *table) exited(p *process) {
	t.mu.Lock()
	if t.procs[p.pid] != p {
		t.mu.Unlock()
		return
	}
	delete(t.procs, p.pid)
	if t.perUID[p.uid]--; t.perUID[p.uid] <= 0 {
		delete(t.perUID, p.uid)
	}
	t.startEviction(p, "the process exited without disconnecting")
	t.mu.Unlock()
}

// startEviction evicts p's handles in the background, one PoolEvict per
// pool.
func (t *table) startEviction(p *process, why string) {
	byPool := make(map[[2]string][]string)
	for k := range p.handles {
		byPool[[2]string{k.sys, k.pool}] = append(byPool[[2]string{k.sys, k.pool}], k.handle)
	}
	for sp, handles := range byPool {
		slices.Sort(handles)
		t.wg.Go(func() { t.evictPool(p.pid, sp[0], sp[1], handles, why) })
	}
}

// evictPool asks the server to evict handles of a pool, trying until the
// eviction timeout.
func (t *table) evictPool(pid int32, sys, pool string, handles []string, why string) {
	if sys == "" {
		sys = t.system
	}
	ctx, cancel := context.WithTimeout(t.evictCtx, t.timeout)
	defer cancel()
	start := time.Now()
	resp, err := t.evict(ctx, &mgmtv1.PoolEvictReq{Sys: sys, Id: pool, Handles: handles, Machine: t.machine})
	attrs := []any{"pid", pid, "pool", pool, "handles", strings.Join(handles, ","), "why", why}
	switch {
	case err != nil:
		t.log.Error("could not evict the pool handles of an exited process", append(attrs, "err", err)...)
	case resp.GetStatus() != 0:
		t.log.Warn("the server could not evict every pool handle of an exited process",
			append(attrs, "status", resp.GetStatus(), "count", resp.GetCount())...)
	default:
		t.log.Info("pool handles of an exited process evicted", append(attrs, "count", resp.GetCount(), "took", time.Since(start).Round(time.Microsecond))...)
	}
}

// snapshot returns the watched processes and their handles, by pid.
func (t *table) snapshot() []Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Process, 0, len(t.procs))
	for _, p := range t.procs {
		pr := Process{PID: p.pid, UID: p.uid}
		for k := range p.handles {
			pr.Handles = append(pr.Handles, Handle{Pool: k.pool, Handle: k.handle})
		}
		slices.SortFunc(pr.Handles, func(a, b Handle) int { return cmp.Or(cmp.Compare(a.Pool, b.Pool), cmp.Compare(a.Handle, b.Handle)) })
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	return out
}

// stop stops watching; evictions in flight may finish until ctx ends, then
// give up.
func (t *table) stop(ctx context.Context) {
	t.watcher.Close()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.evictCancel()
		<-done
	}
	t.evictCancel()
}

// Process is a watched client process, for tests and diagnostics.
type Process struct {
	PID     int32
	UID     uint32
	Handles []Handle
}

// Handle is a pool handle of a process.
type Handle struct {
	Pool, Handle string
}
