package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where an Endpoint serves the metrics.
const Path = "/metrics"

// ErrBadAddr: a metrics address is not HOST:PORT.
var ErrBadAddr = errors.New("bad metrics address")

// NewRegistry returns a registry with the Go runtime, process and build
// information (go_build_info) collectors and cs, the usual set for a
// daemon's endpoint.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	all := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	}, cs...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register collector: %w", err)
		}
	}
	return reg, nil
}

// ResolveAddr checks a --metrics-addr value and returns the address to
// listen on: addr must be HOST:PORT (PORT a number, 0 for any free port); an
// empty HOST means 127.0.0.1, so that the metrics stay on this machine unless
// the operator names another host. IPv6 hosts are written in brackets
// ("[::1]:9191").
func ResolveAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return "", fmt.Errorf("%w %q: want HOST:PORT, e.g. 127.0.0.1:9191 (an empty host means 127.0.0.1): %w", ErrBadAddr, addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%w %q: want HOST:PORT with a port number from 0 to 65535, e.g. 127.0.0.1:9191", ErrBadAddr, addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// IsLoopback reports whether host ("localhost", or an address in 127.0.0.0/8
// or ::1) can only be reached from this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint is an HTTP server that serves Path in the Prometheus text format.
type Endpoint struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Listen binds addr (see ResolveAddr) and serves the metrics of g on it in
// the background, until Shutdown. It logs the bound address (with port 0 the
// kernel picks one) and warns when it is not a loopback address. log may be
// nil.
func Listen(addr string, g prometheus.Gatherer, log *slog.Logger) (*Endpoint, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	resolved, err := ResolveAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", resolved)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: listen on %s: %w (choose another --metrics-addr, or leave it empty to turn the endpoint off)", resolved, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "dRPC daemon metrics: %s\n", Path)
	})
	e := &Endpoint{
		ln: ln,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(e.done)
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	host, _, _ := net.SplitHostPort(resolved)
	if IsLoopback(host) {
		log.Info("metrics endpoint listening", "url", e.URL())
	} else {
		log.Warn("metrics endpoint listening on a non-loopback address: other machines can read it", "url", e.URL())
	}
	return e, nil
}

// Addr returns the address the endpoint listens on, with the port the
// kernel picked for port 0.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// URL returns the URL of the metrics, e.g. "http://127.0.0.1:9191/metrics".
func (e *Endpoint) URL() string { return "http://" + e.ln.Addr().String() + Path }

// Shutdown stops the endpoint: it stops accepting, lets scrapes in progress
// finish until ctx ends, then closes what is left.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	err := e.srv.Shutdown(ctx)
	if err != nil {
		_ = e.srv.Close()
	}
	<-e.done
	if err != nil {
		return fmt.Errorf("metrics endpoint: shutdown: %w", err)
	}
	return nil
}

// slogPrinter adapts a slog.Logger to promhttp's Logger.
type slogPrinter struct{ log *slog.Logger }

// Println logs a promhttp error at warn level.
func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics endpoint: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
