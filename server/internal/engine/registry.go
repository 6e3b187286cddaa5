package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// State is what the server knows of an engine's health.
type State int

// The states of an engine.
const (
	// Ready: the engine notified ready and answers (or has not failed yet).
	Ready State = iota + 1
	// Unavailable: the engine stopped answering: it died (its socket is
	// stale) or hangs. It is Ready again when it answers or notifies ready.
	Unavailable
	// Stopped: the engine's socket is gone (it exited cleanly), or the
	// server prepared it for shutdown.
	Stopped
)

// String returns the state's name as `drpc-server status` prints it.
func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Unavailable:
		return "unavailable"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Defaults of a Registry.
const (
	// DefaultPingInterval is the time between two pings of an engine.
	DefaultPingInterval = time.Second
)

// ErrClosed: the registry is shutting down and takes no more engines.
var ErrClosed = errors.New("the server is shutting down")

// Info is what an engine tells the server when it notifies ready.
type Info struct {
	// Index is the engine's instance index on this server.
	Index uint32
	// Socket is the engine's dRPC socket.
	Socket string
	// PID is the process that notified (from the socket's peer credentials).
	PID int32
	// Incarnation and URI are copied from the notification.
	Incarnation uint64
	URI         string
	// Nctxs is the number of CaRT contexts of the primary URI, from the
	// notification (clients get it with the URI, in the attach info).
	Nctxs uint32
}

// Status is a snapshot of one engine.
type Status struct {
	Info
	// Rank is the rank the server gives the engine.
	Rank uint32
	// State is the engine's health.
	State State
	// RankSet is true once the engine accepted its rank.
	RankSet bool
	// Notified is when the engine last notified ready.
	Notified time.Time
	// LastPing is when the engine last answered a ping (zero if never).
	LastPing time.Time
	// Since is when the engine entered its State.
	Since time.Time
	// Err is the last failure to reach the engine, empty while it answers.
	Err string
	// Adopted is true for an engine the server found running at its start
	// (Adopt) rather than one that notified it. Until it notifies ready,
	// Notified is zero and its URI and incarnation are unknown.
	Adopted bool
}

// Options configure a Registry.
type Options struct {
	// Caller makes the calls to engines; nil means NewCaller with the
	// default policy.
	Caller *Caller
	// Ranks maps engine indexes to ranks; an index it does not list gets
	// its index as rank.
	Ranks map[uint32]uint32
	// PingInterval is the time between two pings of an engine; 0 means
	// DefaultPingInterval. A ping not answered by the next is a failure.
	PingInterval time.Duration
	// CallTimeout bounds set rank and prepare for shutdown, retries
	// included; 0 means the caller's policy CallTimeout.
	CallTimeout time.Duration
	// Logger receives the registry's records; nil discards them.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Registry holds the engines that notified ready and watches them: it sets
// each one's rank, then pings it on an interval, in a goroutine per engine.
// It is safe for concurrent use.
type Registry struct {
	opts   Options
	caller *Caller
	log    *slog.Logger

	ctx    context.Context // ends at Shutdown: stops the monitors
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	engines map[uint32]*engine
}

// engine is the registry's record of one engine.
type engine struct {
	st     Status
	gen    uint64             // counts notifications: a monitor of an older one must not write
	cancel context.CancelFunc // stops the current monitor
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	if opts.Caller == nil {
		opts.Caller = NewCaller(CallerOptions{Logger: opts.Logger})
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = opts.Caller.Policy().CallTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{opts: opts, caller: opts.Caller, log: log, ctx: ctx, cancel: cancel, engines: make(map[uint32]*engine)}
}

// RankOf returns the rank of the engine with the given index.
func (r *Registry) RankOf(index uint32) uint32 {
	if rank, ok := r.opts.Ranks[index]; ok {
		return rank
	}
	return index
}

// Ready records that an engine notified ready: it is Ready from now on, and
// a goroutine sets its rank and pings it. A second notification of the same
// index (the engine restarted) replaces the first and starts again, except
// the first notification of an adopted engine by the process that was
// adopted, which only fills in what the notification tells (see Adopt).
func (r *Registry) Ready(info Info) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	now := r.opts.Now()
	// Two engines cannot listen on one socket: an engine of another index
	// that had this socket is gone.
	for idx, other := range r.engines {
		if idx != info.Index && other.st.Socket == info.Socket {
			other.cancel()
			delete(r.engines, idx)
			r.log.Warn("engine's socket now belongs to another engine: forgetting it", "index", idx, "socket", info.Socket, "new_index", info.Index)
		}
	}
	e, again := r.engines[info.Index]
	if again && r.reannounce(e, info, now) {
		return nil
	}
	if !again {
		e = &engine{}
		r.engines[info.Index] = e
	} else {
		e.cancel()
	}
	e.gen++
	e.st = Status{Info: info, Rank: r.RankOf(info.Index), State: Ready, Notified: now, Since: now}
	r.startMonitor(info.Index, e)
	r.log.Info("engine ready", "index", info.Index, "rank", e.st.Rank, "socket", info.Socket, "pid", info.PID,
		"incarnation", info.Incarnation, "again", again)
	return nil
}

// startMonitor starts the goroutine that watches engine index for its
// current notification (e.gen). The caller holds r.mu.
func (r *Registry) startMonitor(index uint32, e *engine) {
	ctx, cancel := context.WithCancel(r.ctx)
	e.cancel = cancel
	r.wg.Add(1)
	go r.monitor(ctx, index, e.gen)
}

// Statuses returns a snapshot of every engine, by index.
func (r *Registry) Statuses() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.engines))
	for _, e := range r.engines {
		out = append(out, e.st)
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// target returns the call target of a status.
func target(st Status) Target {
	return Target{Name: fmt.Sprintf("engine %d", st.Index), Socket: st.Socket}
}

// monitor sets the rank of engine index, then pings it every interval,
// until ctx ends (a new notification or Shutdown).
func (r *Registry) monitor(ctx context.Context, index uint32, gen uint64) {
	defer r.wg.Done()
	interval := r.opts.PingInterval
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		st, ok := r.status(index, gen)
		if !ok {
			return
		}
		if !st.RankSet {
			cctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
			var resp mgmtv1.DaosResp
			err := r.caller.Call(cctx, target(st), mgmtv1drpc.MgmtServiceSetRankMethod, &mgmtv1.SetRankReq{Rank: st.Rank}, &resp)
			cancel()
			if err == nil && resp.GetStatus() != 0 {
				err = fmt.Errorf("engine %d refused rank %d: status %d", index, st.Rank, resp.GetStatus())
			}
			r.record(ctx, index, gen, err, true)
		} else {
			cctx, cancel := context.WithTimeout(ctx, interval)
			var resp mgmtv1.DaosResp
			err := r.caller.Call(cctx, target(st), mgmtv1drpc.MgmtServicePingRankMethod, &mgmtv1.PingRankReq{Rank: st.Rank}, &resp)
			cancel()
			if err == nil && resp.GetStatus() != 0 {
				err = fmt.Errorf("engine %d answered its ping with status %d", index, resp.GetStatus())
			}
			r.record(ctx, index, gen, err, false)
		}
		timer.Reset(interval)
	}
}

// status returns the status of engine index if gen is still its current
// notification.
func (r *Registry) status(index uint32, gen uint64) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.engines[index]
	if !ok || e.gen != gen {
		return Status{}, false
	}
	return e.st, true
}

// record updates engine index after a set rank (setRank) or a ping that
// ended with err, and logs the changes of state.
func (r *Registry) record(ctx context.Context, index uint32, gen uint64, err error, setRank bool) {
	if ctx.Err() != nil {
		return // stopped during the call: its failure says nothing of the engine
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.engines[index]
	if !ok || e.gen != gen {
		return
	}
	now := r.opts.Now()
	prev := e.st.State
	if err == nil {
		e.st.Err = ""
		if setRank {
			e.st.RankSet = true
			r.log.Info("engine accepted its rank", "index", index, "rank", e.st.Rank)
		} else {
			e.st.LastPing = now
		}
		if prev != Ready {
			e.st.State, e.st.Since = Ready, now
			r.log.Info("engine answers again", "index", index, "rank", e.st.Rank, "was", prev.String())
		}
		return
	}
	e.st.Err = err.Error()
	state := Unavailable
	if errors.Is(err, fs.ErrNotExist) {
		state = Stopped
	}
	if state != prev {
		e.st.State, e.st.Since = state, now
		r.log.Warn("engine "+state.String(), "index", index, "rank", e.st.Rank, "was", prev.String(), "err", err)
	} else {
		r.log.Debug("engine still "+state.String(), "index", index, "err", err)
	}
}

// Shutdown stops watching the engines and prepares every Ready engine for
// shutdown (method 218), all at once, each within the registry's
// CallTimeout and ctx; an engine that accepts is Stopped. It refuses later
// notifications (ErrClosed). The error joins the engines' failures.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()

	var ready []Status
	for _, st := range r.Statuses() {
		if st.State == Ready {
			ready = append(ready, st)
		}
	}
	errs := make([]error, len(ready))
	var wg sync.WaitGroup
	for i, st := range ready {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
			defer cancel()
			var resp mgmtv1.DaosResp
			err := r.caller.Call(cctx, target(st), mgmtv1drpc.MgmtServicePrepShutdownMethod, &mgmtv1.PrepShutdownReq{Rank: st.Rank}, &resp)
			if err == nil && resp.GetStatus() != 0 {
				err = fmt.Errorf("engine %d refused to prepare for shutdown: status %d", st.Index, resp.GetStatus())
			}
			if err != nil {
				r.log.Warn("engine not prepared for shutdown", "index", st.Index, "rank", st.Rank, "err", err)
				errs[i] = err
				return
			}
			r.log.Info("engine prepared for shutdown", "index", st.Index, "rank", st.Rank)
			r.mu.Lock()
			if e, ok := r.engines[st.Index]; ok {
				e.st.State, e.st.Since, e.st.Err = Stopped, r.opts.Now(), ""
			}
			r.mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
