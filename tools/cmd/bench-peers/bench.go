package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cc532012/drpc/tools/internal/hist"
)

// cellKey names a cell of the tables.
type cellKey struct {
	transport string
	size      int
	conns     int
}

// sample is one cell's result in one round.
type sample struct {
	Round              int     `json:"round,omitempty"`
	Calls              uint64  `json:"calls"`
	ElapsedNs          int64   `json:"elapsed_ns"`
	CallsPerSec        float64 `json:"calls_per_sec"`
	P50Ns              float64 `json:"p50_ns"`
	P99Ns              float64 `json:"p99_ns"`
	AllocsPerCall      float64 `json:"allocs_per_call"`
	BytesPerCall       float64 `json:"bytes_per_call"`
	ClientCPUNsPerCall float64 `json:"client_cpu_ns_per_call"`
	ServerCPUNsPerCall float64 `json:"server_cpu_ns_per_call"`
	Error              string  `json:"error,omitempty"`
}

// watchdogGrace is how long a cell may run past its warm-up and duration
// before the benchmark gives up on it (a hung transport).
const watchdogGrace = 30 * time.Second

// runBench runs every round and returns what it measured. An error means
// the run stopped early; the report then holds what was measured until then.
func runBench(cfg *config, progress io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "bench-peers")
	if err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	defer os.RemoveAll(dir)
	stopProfile, err := startCPUProfile(cfg.cpuProfile)
	if err != nil {
		return nil, err
	}
	srv, err := startChild(dir, cfg.serverCPUProfile, progress)
	if err != nil {
		_ = stopProfile()
		return nil, err
	}
	// Ctrl-C stops the run after the cell in progress, with a report of what
	// was measured; a second one kills the program as usual. (The server
	// process ignores it and exits when its input closes.)
	var interrupted atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			interrupted.Store(true)
			signal.Stop(sig)
			fmt.Fprintln(progress, "bench-peers: interrupted; stopping after this cell (again to kill)")
		case <-done:
			signal.Stop(sig)
		}
	}()

	rep := newReport(cfg)
	var runErr error
rounds:
	for r := range cfg.rounds {
		for _, size := range cfg.sizes {
			for _, conns := range cfg.conns {
				// Rotate the transports from round to round so that none
				// always runs right after the same neighbour.
				ts := cfg.transports
				for i := range ts {
					t := ts[(i+r)%len(ts)]
					if t.only != nil && !t.only(size, conns) {
						continue
					}
					s, err := measure(t, dir, size, conns, cfg, srv)
					s.Round = r + 1
					if err != nil {
						s.Error = err.Error()
					}
					rep.add(cellKey{t.name, size, conns}, s)
					fmt.Fprintf(progress, "round %d/%d  %-8s x%-3d %-14s %s\n", r+1, cfg.rounds, sizeLabel(size), conns, t.name, s.summary())
					if errors.Is(err, errChildGone) {
						runErr = fmt.Errorf("stopped in round %d: %w", r+1, err)
						break rounds
					}
					if interrupted.Load() {
						runErr = fmt.Errorf("interrupted in round %d", r+1)
						break rounds
					}
				}
			}
		}
	}
	if err := errors.Join(stopProfile(), writeMemProfile(cfg.memProfile)); err != nil && runErr == nil {
		runErr = err
	}
	if err := srv.stop(); err != nil && runErr == nil {
		runErr = err
	}
	rep.finish()
	return rep, runErr
}

// worker is one connection and the goroutine that calls on it.
type worker struct {
	c     caller
	chk   *echoCheck
	check func([]byte) error
	hist  *hist.Histogram
	calls uint64
	end   time.Time
	err   error
}

// loop makes calls back to back until one ends at or after until (and at
// least minCalls were made), stop is set, or a call fails. A call's latency
// is the time from the end of the previous call (or the start) to its end:
// the stamping of the request, the call and the check of the echo, so that
// the latencies add up to the elapsed time.
func (w *worker) loop(until time.Time, minCalls uint64, stop *atomic.Bool) {
	t0 := time.Now()
	for {
		w.chk.next()
		err := w.c.call(w.chk.req, w.check)
		t1 := time.Now()
		if err != nil {
			w.err, w.end = err, t1
			stop.Store(true)
			return
		}
		w.hist.Record(uint64(max(t1.Sub(t0), 0)))
		w.calls++
		if (!t1.Before(until) && w.calls >= minCalls) || stop.Load() {
			w.end = t1
			return
		}
		t0 = t1
	}
}

// measure runs one cell once: connect, warm up, then the timed part, with
// the client's allocations and both processes' CPU time read around it.
func measure(t transport, dir string, size, conns int, cfg *config, srv *child) (sample, error) {
	var timedOut atomic.Bool
	watchdog := time.AfterFunc(cfg.warmup+cfg.duration+watchdogGrace, func() {
		timedOut.Store(true)
		srv.kill() // every call in flight fails, and the run stops
	})
	defer watchdog.Stop()
	fail := func(err error) (sample, error) {
		if timedOut.Load() {
			return sample{}, fmt.Errorf("%w: no answer within %v (killed): %w", errChildGone, watchdogGrace, err)
		}
		return sample{}, err
	}

	dial := func() (caller, error) { return t.dial(t.path(dir), size) }
	if t.share != nil {
		next, done := t.share(t.path(dir), conns)
		defer done()
		dial = func() (caller, error) { return next(), nil }
	}
	ws := make([]*worker, 0, conns)
	defer func() {
		for _, w := range ws {
			_ = w.c.Close()
		}
	}()
	for range conns {
		c, err := dial()
		if err != nil {
			return fail(fmt.Errorf("connect: %w", err))
		}
		w := &worker{c: c, chk: newEchoCheck(size), hist: hist.New()}
		w.check = w.chk.check
		ws = append(ws, w)
	}

	if _, err := srv.ask("gc"); err != nil {
		return fail(err)
	}
	runtime.GC()

	var stop atomic.Bool
	var wg sync.WaitGroup
	warmUntil := time.Now().Add(cfg.warmup)
	for _, w := range ws {
		wg.Go(func() { w.loop(warmUntil, 2, &stop) })
	}
	wg.Wait()
	if err := firstError(ws); err != nil {
		return fail(fmt.Errorf("warm-up: %w", err))
	}
	for _, w := range ws {
		w.hist = hist.New()
		w.calls = 0
	}

	gate := make(chan struct{})
	var deadline time.Time
	for _, w := range ws {
		wg.Go(func() {
			<-gate
			w.loop(deadline, 1, &stop)
		})
	}
	// The CPU times are read outside the allocation counts, which thus hold
	// only what the calls allocate (and whatever the runtime does meanwhile).
	scpu0, err := srv.cpu()
	if err != nil {
		stop.Store(true)
		close(gate)
		wg.Wait()
		return fail(err)
	}
	cpu0, cerr := processCPU()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	deadline = start.Add(cfg.duration)
	close(gate)
	wg.Wait()
	runtime.ReadMemStats(&m1)
	cpu1, cerr1 := processCPU()
	scpu1, serr := srv.cpu()
	if err := errors.Join(firstError(ws), cerr, cerr1, serr); err != nil {
		return fail(err)
	}

	all := hist.New()
	var calls uint64
	end := start
	for _, w := range ws {
		all.Merge(w.hist)
		calls += w.calls
		if w.end.After(end) {
			end = w.end
		}
	}
	elapsed := end.Sub(start)
	n := float64(calls)
	return sample{
		Calls:              calls,
		ElapsedNs:          elapsed.Nanoseconds(),
		CallsPerSec:        n / elapsed.Seconds(),
		P50Ns:              float64(all.Quantile(0.50)),
		P99Ns:              float64(all.Quantile(0.99)),
		AllocsPerCall:      float64(m1.Mallocs-m0.Mallocs) / n,
		BytesPerCall:       float64(m1.TotalAlloc-m0.TotalAlloc) / n,
		ClientCPUNsPerCall: float64(cpu1-cpu0) / n,
		ServerCPUNsPerCall: float64(scpu1-scpu0) / n,
	}, nil
}

func firstError(ws []*worker) error {
	for _, w := range ws {
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

// summary is the progress line of a sample.
func (s sample) summary() string {
	if s.Error != "" {
		return "ERROR: " + s.Error
	}
	return fmt.Sprintf("%10.0f calls/s  p50 %8.1f µs  p99 %8.1f µs", s.CallsPerSec, s.P50Ns/1e3, s.P99Ns/1e3)
}
