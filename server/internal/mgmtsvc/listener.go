package mgmtsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/cc532012/drpc/daemon/tlsconfig"
)

// Bounds of the listener, against clients that hold resources.
const (
	// HandshakeTimeout bounds a connection's TLS handshake.
	HandshakeTimeout = 10 * time.Second
	// MaxRecvMsgSize bounds a request: a PoolEvict of a few thousand
	// handles fits.
	MaxRecvMsgSize = 256 << 10
	// MaxConcurrentStreams bounds the calls in flight on one connection.
	MaxConcurrentStreams = 64
)

// ListenerOptions configure a Listener.
type ListenerOptions struct {
	// Address is where to listen, HOST:PORT; an empty host listens on every
	// address, port 0 picks a free port (Addr says which).
	Address string
	// TLS is the transport_config.
	TLS tlsconfig.ServerConfig
	// Service answers the calls.
	Service *Service
	// Logger receives the listener's records; nil discards them.
	Logger *slog.Logger
}

// Listener serves the management service over gRPC. Make one with
// NewListener, then Start and Stop it.
type Listener struct {
	opts ListenerOptions
	log  *slog.Logger

	mu   sync.Mutex
	tls  *tlsconfig.ServerTLS // nil with allow_insecure
	srv  *grpc.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returns
}

// NewListener checks the options; it reads no file and listens on nothing.
func NewListener(opts ListenerOptions) (*Listener, error) {
	if opts.Service == nil {
		return nil, errors.New("mgmtsvc: no service")
	}
	if _, _, err := net.SplitHostPort(opts.Address); err != nil {
		return nil, fmt.Errorf("management service address %q: %w", opts.Address, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{opts: opts, log: log}, nil
}

// Address returns the address to listen on for a host and a port:
// "HOST:PORT", or ":PORT" for every address.
func Address(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Start reads the TLS files (the configuration's errors name the key and
// the fix), listens, and serves in the background. When it returns nil, the
// port accepts connections.
func (l *Listener) Start(_ context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv != nil {
		return errors.New("management service: already started")
	}
	var creds credentials.TransportCredentials
	if l.opts.TLS.AllowInsecure {
		creds = insecure.NewCredentials()
	} else {
		st, err := tlsconfig.NewServerTLS(l.opts.TLS, tlsconfig.Options{NextProtos: []string{"h2"}, Logger: l.log})
		if err != nil {
			return fmt.Errorf("management service: transport_config: %w", err)
		}
		l.tls = st
		creds = credentials.NewTLS(st.Config())
	}
	desc, err := ServiceDesc()
	if err != nil {
		return err
	}
	srv := grpc.NewServer(
		grpc.Creds(&loggedCreds{TransportCredentials: creds, insecure: l.opts.TLS.AllowInsecure, refused: &refusals{log: l.log, now: time.Now}}),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		// Agents keep their connection open and idle between calls: let
		// them ping every 10 s or more, and drop a connection that stays
		// silent for long.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
	)
	srv.RegisterService(desc, l.opts.Service)
	ln, err := net.Listen("tcp", l.opts.Address)
	if err != nil {
		return fmt.Errorf("management service: listen on %s: %w: choose another port (port, --port) or stop what uses it", l.opts.Address, err)
	}
	l.srv, l.ln, l.done = srv, ln, make(chan struct{})
	go func() {
		defer close(l.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			l.log.Error("management service stopped serving", "err", err)
		}
	}()
	attrs := []any{"address", ln.Addr().String(), "system", l.opts.Service.System(), "tls", l.tls != nil}
	if l.tls != nil {
		attrs = append(attrs, "client_cert_dir", l.opts.TLS.ClientCertDir)
	}
	l.log.Info("management service listening", attrs...)
	if l.tls == nil {
		l.log.Warn("the management service runs without TLS (transport_config.allow_insecure): any client may call it")
	}
	return nil
}

// Addr returns the address the listener listens on (HOST:PORT), or "" if
// it does not.
func (l *Listener) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// TLS reports whether the listener requires TLS.
func (l *Listener) TLS() bool { return !l.opts.TLS.AllowInsecure }

// Reload reads the TLS files again: new connections use them. If one cannot
// be used, the listener keeps the files it had and Reload says why.
func (l *Listener) Reload() error {
	l.mu.Lock()
	st := l.tls
	l.mu.Unlock()
	if st == nil {
		return nil
	}
	if err := st.Reload(); err != nil {
		return fmt.Errorf("management service: keeping the current certificates: transport_config: %w", err)
	}
	l.log.Info("management service certificates read again", "cert", l.opts.TLS.Cert, "serial", st.Leaf().SerialNumber.Text(16),
		"not_after", st.Leaf().NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// Stop stops accepting connections and lets the calls in flight finish
// until ctx ends, then closes every connection.
func (l *Listener) Stop(ctx context.Context) error {
	l.mu.Lock()
	srv, done := l.srv, l.done
	l.mu.Unlock()
	if srv == nil {
		return nil
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		srv.Stop()
		<-stopped
	}
	<-done
	return nil
}
