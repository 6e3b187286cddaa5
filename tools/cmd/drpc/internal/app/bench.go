package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cc532012/drpc/daemon/cli"
	"github.com/cc532012/drpc/daemon/config"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/tools/internal/hist"
)

// Limits of bench's flags.
const (
	maxConns        = 4096
	defaultBodySize = 64
	// progressInterval is how often the live progress line is redrawn.
	progressInterval = 100 * time.Millisecond
	// retryFor is how long the pool retries a call that did not reach the
	// server (it restarts, or is gone) before the call counts as failed:
	// a dead server is not spun on, and a restart costs no errors.
	retryFor = 10 * time.Millisecond
)

// BenchResult is what `drpc bench --json` prints, and what the text report
// shows. Latencies are in microseconds, from a log-linear histogram within
// 1% of the exact value (package hist).
type BenchResult struct {
	Socket string `json:"socket"`
	Module int32  `json:"module"`
	Method int32  `json:"method"`
	// MethodName is the method's full name, if the catalog knows it.
	MethodName string `json:"method_name,omitempty"`
	BodyBytes  int    `json:"body_bytes"`
	Conns      int    `json:"conns"`
	// Seconds is how long the load ran.
	Seconds float64 `json:"seconds"`
	// Calls counts the calls answered SUCCESS; only they are timed.
	Calls          uint64  `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	// BodyMiBPerSecond is the request bodies sent per second, in MiB.
	BodyMiBPerSecond float64 `json:"body_mib_per_second"`
	MinUS            float64 `json:"min_us"`
	MeanUS           float64 `json:"mean_us"`
	P50US            float64 `json:"p50_us"`
	P90US            float64 `json:"p90_us"`
	P99US            float64 `json:"p99_us"`
	P999US           float64 `json:"p999_us"`
	MaxUS            float64 `json:"max_us"`
	// Errors counts the failed calls by kind: a transport failure
	// (closed_by_server, timeout, refused, ...) or a status
	// (status_FAILURE, ...).
	Errors map[string]uint64 `json:"errors"`
	// Interrupted is true if SIGINT or SIGTERM ended the run early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ErrorCount is the number of failed calls.
func (r BenchResult) ErrorCount() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// benchConfig is one bench run.
type benchConfig struct {
	socket   string
	target   Target
	body     []byte
	conns    int
	duration time.Duration
	timeout  time.Duration
	// progress receives the live progress line; nil for none.
	progress io.Writer
}

// benchWorker is one connection's tally; only its goroutine writes it.
type benchWorker struct {
	hist   *hist.Histogram
	errors map[string]uint64
}

// liveCounts are the totals the progress line shows.
type liveCounts struct {
	calls, errors atomic.Uint64
}

func newBenchCommand() *cobra.Command {
	var (
		socket   string
		target   targetFlags
		body     bodyFlags
		size     = config.Size(defaultBodySize)
		conns    int
		duration time.Duration
		timeout  time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "bench --socket PATH [--module M --method N] [--size BYTES] [--conns C] [--duration D] [--json]",
		Short: "Load-test a server: calls back to back on C connections, latency percentiles",
		Long: `bench opens --conns connections to the server (a pool of sessions, one goroutine
each, which replaces a session the server closes) and makes calls on each,
back to back, for --duration; then it prints the calls per second, the latency
percentiles (p50, p90, p99, p99.9, max, in microseconds, from a log-linear
histogram within 1% of the exact values) and the failed calls by kind. On a
terminal a progress line shows the calls per second, the errors and the
elapsed time as it goes.

By default it calls the echo, module 0 method 1 (see 'drpc serve-echo'),
with a body of --size bytes, which is also a valid EchoRequest, so that a
server with the generated Echo answers it too. For another method give
--module/--method and the body with --data or --hex, as for call:

` + NameForms + `

Exit codes: 0 every call succeeded; 1 some calls failed (the report is still
printed), or the first call answered a status other than SUCCESS; 2 usage;
3 the server cannot be reached.`,
		Example: `  drpc bench --socket /tmp/echo.sock
  drpc bench --socket /tmp/echo.sock --size 1MiB --conns 4 --duration 30s --json
  drpc bench --socket "$SOCK" --method mgmt.PingRank --data '{"rank": 1}'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireSocket(socket); err != nil {
				return err
			}
			switch {
			case conns < 1 || conns > maxConns:
				return usage(fmt.Errorf("--conns %d is out of range: give 1 to %d connections", conns, maxConns))
			case duration <= 0:
				return usage(fmt.Errorf("--duration %s must be positive, e.g. 10s", duration))
			case timeout < 0:
				return usage(fmt.Errorf("--timeout %s is negative: give a duration such as 10s, or 0 for no limit", timeout))
			case int(size) > MaxBody:
				return usage(fmt.Errorf("--size %d is out of range: give 0 to %d bytes (64MiB)", int(size), MaxBody))
			}
			cfg := benchConfig{socket: socket, conns: conns, duration: duration, timeout: timeout}
			bodyGiven := cli.Changed(cmd, "data") || cli.Changed(cmd, "hex")
			if target.module == "" && target.method == "" {
				target.method = "1"
				target.module = "0"
			}
			t, err := target.resolve()
			if err != nil {
				return err
			}
			cfg.target = t
			isEcho := t.Module == 0 && t.Method == 1
			switch {
			case bodyGiven && cli.Changed(cmd, "size"):
				return usage(errors.New("--size and --data/--hex both give the body: pass only one"))
			case bodyGiven:
				if cfg.body, err = body.body(cmd, t); err != nil {
					return err
				}
			case isEcho:
				cfg.body = EchoBody(int(size))
			case cli.Changed(cmd, "size"):
				return usage(fmt.Errorf("--size makes echo bodies; for %s give the body with --data or --hex", t))
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				cfg.progress = f
			}
			res, err := runBench(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cli.Stdout(cmd)
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(res)
			} else {
				err = writeBench(out, res)
			}
			if err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
			if n := res.ErrorCount(); n > 0 {
				return cli.WithExitCode(ExitStatus, fmt.Errorf("%d of %d calls failed (%s): see the server's log", n, n+res.Calls, errorSummary(res.Errors)))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", "", "the server's socket `PATH`")
	target.add(cmd, "", "")
	body.add(fs)
	fs.Var(&size, "size", "echo body size: `BYTES`, or with a suffix B, KiB (K) or MiB (M), e.g. 4KiB (0 to 64MiB)")
	fs.IntVar(&conns, "conns", 1, "`NUMBER` of connections, each making calls back to back")
	fs.DurationVar(&duration, "duration", 10*time.Second, "how long to run: `DURATION`, e.g. 30s")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "per-call limit: `DURATION`; 0 waits for ever")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object (calls, calls_per_second, p50_us, p90_us, p99_us, max_us, errors, ...)")
	return cmd
}

// runBench runs cfg's load and returns the merged results. It first makes
// one call, so that a server that cannot be reached, or does not serve the
// method, is reported at once (with its exit code) instead of as errors.
// The load runs on a drpc.Pool of cfg.conns sessions, one goroutine per
// session, which replaces the sessions the server closes.
func runBench(ctx context.Context, cfg benchConfig) (BenchResult, error) {
	call := &drpc.Call{Module: int32(cfg.target.Module), Method: int32(cfg.target.Method), Body: cfg.body}
	if err := firstCall(ctx, cfg, call); err != nil {
		return BenchResult{}, err
	}
	pool := drpc.NewPool(cfg.socket, drpc.PoolOptions{Size: cfg.conns, RetryTimeout: retryFor}, drpc.WithMaxMessageSize(maxMessageSize))
	defer pool.Close()

	var (
		live    liveCounts
		wg      sync.WaitGroup
		workers = make([]*benchWorker, cfg.conns)
		start   = time.Now()
		end     = start.Add(cfg.duration)
	)
	for i := range workers {
		w := &benchWorker{hist: hist.New(), errors: make(map[string]uint64)}
		workers[i] = w
		wg.Go(func() { w.run(ctx, cfg, pool, call, end, &live) })
	}
	if cfg.progress != nil {
		showProgress(cfg.progress, &wg, &live, start, cfg.duration)
	} else {
		wg.Wait()
	}
	elapsed := time.Since(start)

	total := hist.New()
	errs := make(map[string]uint64)
	for _, w := range workers {
		total.Merge(w.hist)
		for k, n := range w.errors {
			errs[k] += n
		}
	}
	us := func(ns uint64) float64 { return math.Round(float64(ns)/100) / 10 }
	secs := elapsed.Seconds()
	res := BenchResult{
		Socket:      cfg.socket,
		Module:      int32(cfg.target.Module),
		Method:      int32(cfg.target.Method),
		BodyBytes:   len(cfg.body),
		Conns:       cfg.conns,
		Seconds:     math.Round(secs*1000) / 1000,
		Calls:       total.Count(),
		MinUS:       us(total.Min()),
		MeanUS:      us(uint64(total.Mean())),
		P50US:       us(total.Quantile(0.50)),
		P90US:       us(total.Quantile(0.90)),
		P99US:       us(total.Quantile(0.99)),
		P999US:      us(total.Quantile(0.999)),
		MaxUS:       us(total.Max()),
		Errors:      errs,
		Interrupted: ctx.Err() != nil,
	}
	if cfg.target.Entry != nil {
		res.MethodName = string(cfg.target.Entry.FullMethodName())
	}
	if secs > 0 {
		res.CallsPerSecond = math.Round(float64(res.Calls)/secs*10) / 10
		res.BodyMiBPerSecond = math.Round(float64(res.Calls)*float64(len(cfg.body))/secs/(1<<20)*100) / 100
	}
	return res, nil
}

// firstCall makes one call on a connection of its own, and explains why
// it failed: the server cannot be reached (with the phase), or answered
// another status.
func firstCall(ctx context.Context, cfg benchConfig, call *drpc.Call) error {
	conn := drpc.NewClientConnection(cfg.socket, drpc.WithMaxMessageSize(maxMessageSize))
	defer conn.Close()
	cctx, cancel := withTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := conn.Connect(cctx); err != nil {
		return unreachable(err, cfg.socket, phaseConnect, cfg.timeout)
	}
	resp, err := conn.SendMsg(cctx, call)
	if err != nil {
		return unreachable(err, cfg.socket, phaseCall, cfg.timeout)
	}
	if resp.GetStatus() != drpc.StatusSuccess {
		return statusError(cfg.target, cfg.socket, resp)
	}
	return nil
}

// run makes calls through pool until end or until ctx ends, and tallies
// them. A call that cannot reach the server fails after the pool has
// retried it for retryFor, so that a dead server is not spun on.
func (w *benchWorker) run(ctx context.Context, cfg benchConfig, pool *drpc.Pool, call *drpc.Call, end time.Time, live *liveCounts) {
	var status drpc.Status
	onReply := func(s drpc.Status, _ []byte) error {
		status = s
		return nil
	}
	fail := func(kind string) {
		w.errors[kind]++
		live.errors.Add(1)
	}
	for ctx.Err() == nil && time.Now().Before(end) {
		cctx, cancel := withTimeout(ctx, cfg.timeout)
		t0 := time.Now()
		err := pool.SendMsgFunc(cctx, call, onReply)
		lat := time.Since(t0)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return // interrupted: the call does not count
		case err != nil:
			fail(classify(err, cfg.socket, phaseCall, cfg.timeout).Kind)
			if lat < retryFor { // an error the pool did not retry
				pause(ctx, min(retryFor-lat, time.Until(end)))
			}
		case status != drpc.StatusSuccess:
			fail("status_" + StatusName(status))
		default:
			w.hist.Record(uint64(lat.Nanoseconds()))
			live.calls.Add(1)
		}
	}
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// showProgress redraws one line on w (a terminal) at most every
// progressInterval until wg is done, then erases it.
func showProgress(w io.Writer, wg *sync.WaitGroup, live *liveCounts, start time.Time, duration time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			fmt.Fprint(w, "\r\x1b[K")
			return
		case <-tick.C:
			el := time.Since(start)
			calls := live.calls.Load()
			fmt.Fprintf(w, "\r%10d calls  %10.0f calls/s  %6d errors  %5.1fs of %s\x1b[K",
				calls, float64(calls)/el.Seconds(), live.errors.Load(), el.Seconds(), duration)
		}
	}
}

// writeBench writes the text report.
func writeBench(w io.Writer, r BenchResult) error {
	what := fmt.Sprintf("module %d, method %d", r.Module, r.Method)
	if r.MethodName != "" {
		what = fmt.Sprintf("%s (%s)", r.MethodName, what)
	}
	conns := "connection"
	if r.Conns != 1 {
		conns += "s"
	}
	errs := "none"
	if len(r.Errors) > 0 {
		errs = errorSummary(r.Errors)
	}
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	_, err := fmt.Fprintf(w, `%s on %s
  %d-byte body, %d %s, %.1fs%s
calls:        %d (%.1f calls/s, %.2f MiB/s of request bodies)
latency (µs): min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)
errors:       %s
`, what, r.Socket, r.BodyBytes, r.Conns, conns, r.Seconds, interrupted,
		r.Calls, r.CallsPerSecond, r.BodyMiBPerSecond,
		r.MinUS, r.P50US, r.P90US, r.P99US, r.P999US, r.MaxUS, r.MeanUS, errs)
	return err
}

// errorSummary lists error counts, most frequent first: "timeout 3, closed_by_server 1".
func errorSummary(errs map[string]uint64) string {
	kinds := slices.Collect(maps.Keys(errs))
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(errs[b], errs[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, errs[k])
	}
	return strings.Join(parts, ", ")
}
