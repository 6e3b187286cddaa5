package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cc532012/drpc/drpc"
)

// DefaultDurationBuckets are the latency histogram's buckets, in seconds:
// from 10µs (a local call's round trip) by factors of 4 up to about 2.6s.
var DefaultDurationBuckets = prometheus.ExponentialBuckets(10e-6, 4, 10)

// Options configure a Collector. The zero value gives the series that the
// package documentation lists.
type Options struct {
	// Namespace prefixes every series name; empty means "drpc".
	Namespace string
	// Subsystem follows the namespace; empty means "server".
	Subsystem string
	// ConstLabels are added to every series (e.g. {"daemon": "agent"}).
	ConstLabels prometheus.Labels
	// DurationBuckets are the latency histogram's upper bounds in seconds;
	// nil means DefaultDurationBuckets.
	DurationBuckets []float64
}

// Collector counts a dRPC server's calls and events for Prometheus. It
// implements drpc.Stats and prometheus.Collector, and is safe for concurrent
// use. Make one with New.
type Collector struct {
	callsStarted  *prometheus.CounterVec
	callsFinished *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requestBytes  *prometheus.CounterVec
	replyBytes    *prometheus.CounterVec

	sessionsOpen    prometheus.Gauge
	sessionsOpened  prometheus.Counter
	sessionsRefused prometheus.Counter
	malformed       prometheus.Counter
	hangUps         prometheus.Counter
	tooLarge        prometheus.Counter
	unknownMethods  prometheus.Counter
	overMemory      prometheus.Counter
	idleTimeouts    prometheus.Counter
	messageTimeouts prometheus.Counter

	// methods maps a method's IDs to its series. It is copied on write, so
	// that the call path reads it without a lock.
	methods atomic.Pointer[map[methodKey]*methodSeries]
	mu      sync.Mutex // serializes writers of methods
}

var (
	_ drpc.Stats           = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

type methodKey struct {
	module drpc.ModuleID
	method drpc.MethodID
}

// knownStatuses is the number of statuses of the wire protocol; their
// finished-call counters are cached per method.
const knownStatuses = 8

type counterBox struct{ c prometheus.Counter }

// methodSeries are the series of one method.
type methodSeries struct {
	module, name string
	started      prometheus.Counter
	duration     prometheus.Observer
	requestBytes prometheus.Counter
	replyBytes   prometheus.Counter
	finished     [knownStatuses]atomic.Pointer[counterBox]
}

// New returns a Collector with the given options.
func New(opts Options) *Collector {
	ns, sub := opts.Namespace, opts.Subsystem
	if ns == "" {
		ns = "drpc"
	}
	if sub == "" {
		sub = "server"
	}
	buckets := opts.DurationBuckets
	if buckets == nil {
		buckets = DefaultDurationBuckets
	}
	method := []string{"module", "method"}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, ConstLabels: opts.ConstLabels})
	}
	c := &Collector{
		callsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "calls_started_total", Help: "dRPC calls started, by module and method."}, method),
		callsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "calls_finished_total", Help: "dRPC calls answered, by module, method and status."}, []string{"module", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "call_duration_seconds", Help: "Time from a decoded dRPC call to its sent reply, by module and method.", Buckets: buckets}, method),
		requestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "request_bytes_total", Help: "Bytes of dRPC request bodies received, by module and method."}, method),
		replyBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "reply_bytes_total", Help: "Bytes of dRPC reply bodies sent, by module and method."}, method),
		sessionsOpen: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, ConstLabels: opts.ConstLabels,
			Name: "sessions_open", Help: "dRPC client connections open now."}),
		sessionsOpened:  counter("sessions_opened_total", "dRPC client connections accepted."),
		sessionsRefused: counter("sessions_refused_total", "dRPC client connections refused at the session limit."),
		malformed:       counter("malformed_packets_total", "dRPC sessions closed for a malformed packet, and calls that did not decode."),
		hangUps:         counter("hangups_total", "dRPC clients that hung up while their call was running."),
		tooLarge:        counter("messages_too_large_total", "dRPC calls refused for exceeding the message size limit."),
		unknownMethods:  counter("unknown_methods_total", "dRPC calls to a module or method the server does not serve."),
		overMemory:      counter("over_memory_limit_total", "dRPC calls refused because they needed more receive memory than the limits allow."),
		idleTimeouts:    counter("idle_timeouts_total", "dRPC sessions closed after the idle timeout."),
		messageTimeouts: counter("message_timeouts_total", "dRPC sessions closed because the rest of a message did not arrive in time."),
	}
	empty := map[methodKey]*methodSeries{}
	c.methods.Store(&empty)
	return c
}

// AddMethods creates the series of methods with zero counts, so that they
// are exported before the first call (Prometheus queries then see 0, not
// nothing). Calls of other methods are counted too.
func (c *Collector) AddMethods(methods ...drpc.Method) {
	for _, m := range methods {
		c.series(m)
	}
}

// series returns the series of m, creating them on first use.
func (c *Collector) series(m drpc.Method) *methodSeries {
	key := methodKey{m.Module(), m.ID()}
	if s, ok := (*c.methods.Load())[key]; ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.methods.Load()
	if s, ok := old[key]; ok {
		return s
	}
	module, name := strconv.Itoa(int(m.Module())), m.String()
	s := &methodSeries{
		module:       module,
		name:         name,
		started:      c.callsStarted.WithLabelValues(module, name),
		duration:     c.duration.WithLabelValues(module, name),
		requestBytes: c.requestBytes.WithLabelValues(module, name),
		replyBytes:   c.replyBytes.WithLabelValues(module, name),
	}
	next := make(map[methodKey]*methodSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = s
	c.methods.Store(&next)
	return s
}

func (c *Collector) finished(s *methodSeries, status drpc.Status) prometheus.Counter {
	i := int(status)
	if i < 0 || i >= knownStatuses {
		return c.callsFinished.WithLabelValues(s.module, s.name, status.String())
	}
	if b := s.finished[i].Load(); b != nil {
		return b.c
	}
	b := &counterBox{c: c.callsFinished.WithLabelValues(s.module, s.name, status.String())}
	s.finished[i].Store(b) // a racing store holds the same counter
	return b.c
}

// CallStarted counts a call of m and its request bytes (drpc.Stats).
func (c *Collector) CallStarted(m drpc.Method, requestBytes int) {
	s := c.series(m)
	s.started.Inc()
	if requestBytes > 0 {
		s.requestBytes.Add(float64(requestBytes))
	}
}

// CallFinished counts an answered call of m by status, its reply bytes, and
// observes its latency (drpc.Stats).
func (c *Collector) CallFinished(m drpc.Method, status drpc.Status, elapsed time.Duration, replyBytes int) {
	s := c.series(m)
	c.finished(s, status).Inc()
	s.duration.Observe(elapsed.Seconds())
	if replyBytes > 0 {
		s.replyBytes.Add(float64(replyBytes))
	}
}

// ServerEvent counts an event of the server (drpc.Stats).
func (c *Collector) ServerEvent(e drpc.ServerEvent) {
	switch e {
	case drpc.EventSessionOpened:
		c.sessionsOpen.Inc()
		c.sessionsOpened.Inc()
	case drpc.EventSessionClosed:
		c.sessionsOpen.Dec()
	case drpc.EventSessionRefused:
		c.sessionsRefused.Inc()
	case drpc.EventMalformedPacket:
		c.malformed.Inc()
	case drpc.EventMessageTooLarge:
		c.tooLarge.Inc()
	case drpc.EventHangUp:
		c.hangUps.Inc()
	case drpc.EventUnknownMethod:
		c.unknownMethods.Inc()
	case drpc.EventOverMemoryLimit:
		c.overMemory.Inc()
	case drpc.EventIdleTimeout:
		c.idleTimeouts.Inc()
	case drpc.EventMessageTimeout:
		c.messageTimeouts.Inc()
	}
}

func (c *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		c.callsStarted, c.callsFinished, c.duration, c.requestBytes, c.replyBytes,
		c.sessionsOpen, c.sessionsOpened, c.sessionsRefused, c.malformed, c.hangUps, c.tooLarge, c.unknownMethods,
		c.overMemory, c.idleTimeouts, c.messageTimeouts,
	}
}

// Describe sends the descriptions of every series (prometheus.Collector).
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, col := range c.collectors() {
		col.Describe(ch)
	}
}

// Collect sends the current values of every series (prometheus.Collector).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c.collectors() {
		col.Collect(ch)
	}
}
