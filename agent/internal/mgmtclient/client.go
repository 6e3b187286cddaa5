package mgmtclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	mgmtpb "github.com/cc532012/drpc/proto/mgmt"
)

// Defaults of a Client.
const (
	// DefaultPort is the port of an access point that names none (DAOS's).
	DefaultPort = 10001
	// DefaultInitialBackoff is the wait after every access point failed
	// once.
	DefaultInitialBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff caps the wait between two rounds.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultAttemptTimeout bounds one call to one access point.
	DefaultAttemptTimeout = 5 * time.Second
)

// Errors of a Client.
var (
	// ErrNoAccessPoints: the agent has no access point (access_points is
	// empty).
	ErrNoAccessPoints = errors.New("no access point is configured (access_points)")
	// ErrClosed: the client is closed.
	ErrClosed = errors.New("the management client is closed")
)

// The gRPC paths of the methods, from the schema: "/mgmt.MgmtSvc/GetAttachInfo"
// and "/mgmt.MgmtSvc/PoolEvict".
var (
	svc               = mgmtpb.File_mgmt_mgmt_proto.Services().ByName("MgmtSvc")
	GetAttachInfoPath = "/" + string(svc.FullName()) + "/" + string(svc.Methods().ByName("GetAttachInfo").Name())
	PoolEvictPath     = "/" + string(svc.FullName()) + "/" + string(svc.Methods().ByName("PoolEvict").Name())
)

// Options configure a Client.
type Options struct {
	// AccessPoints are the servers, "host" or "host:port" (ParseAccessPoint).
	AccessPoints []string
	// Port is the port of an access point that names none; 0 means
	// DefaultPort.
	Port int
	// TLS is the transport_config: mutual TLS unless AllowInsecure.
	TLS tlsconfig.Config
	// InitialBackoff and MaxBackoff bound the wait between two rounds of
	// the access points; 0 means the defaults.
	InitialBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one call to one access point; 0 means
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// Logger receives the client's records; nil discards them.
	Logger *slog.Logger
}

// Client calls the management service of the servers. It is safe for
// concurrent use.
type Client struct {
	opts  Options
	addrs []string // the access points' HOST:PORT, in the configured order
	log   *slog.Logger

	mu        sync.Mutex
	closed    bool
	creds     credentials.TransportCredentials
	conns     map[string]*grpc.ClientConn
	preferred int               // index of the access point to try first
	answered  string            // the last access point that answered
	lastErr   map[string]string // each access point's last error, logged once
}

// New checks the access points and reads the TLS files (a missing or bad
// file is an error naming it). It connects to nothing: connections are made
// by the first call to each access point.
func New(opts Options) (*Client, error) {
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff < opts.InitialBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.InitialBackoff)
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, log: log, conns: make(map[string]*grpc.ClientConn), lastErr: make(map[string]string)}
	seen := make(map[string]bool)
	for _, ap := range opts.AccessPoints {
		addr, err := ParseAccessPoint(ap, opts.Port)
		if err != nil {
			return nil, err
		}
		if !seen[addr] {
			seen[addr] = true
			c.addrs = append(c.addrs, addr)
		}
	}
	creds, err := loadCreds(opts.TLS, log)
	if err != nil {
		return nil, err
	}
	c.creds = creds
	return c, nil
}

// loadCreds makes the transport credentials of transport_config.
func loadCreds(c tlsconfig.Config, log *slog.Logger) (credentials.TransportCredentials, error) {
	if c.AllowInsecure {
		return insecure.NewCredentials(), nil
	}
	cfg, err := tlsconfig.Client(c, tlsconfig.Options{NextProtos: []string{"h2"}, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("transport_config: %w", err)
	}
	return &verdictCreds{TransportCredentials: credentials.NewTLS(cfg)}, nil
}

// AccessPoints returns the access points' addresses, HOST:PORT.
func (c *Client) AccessPoints() []string { return append([]string(nil), c.addrs...) }

// Insecure reports whether the client runs without TLS.
func (c *Client) Insecure() bool { return c.opts.TLS.AllowInsecure }

// ReloadTLS reads the TLS files again: the connections are closed and made
// again with them by the next calls (a call in flight fails and is tried
// again, as the methods are idempotent). If a file cannot be used, the
// client keeps its connections and ReloadTLS says why.
func (c *Client) ReloadTLS() error {
	creds, err := loadCreds(c.opts.TLS, c.log)
	if err != nil {
		return fmt.Errorf("keeping the current certificates: %w", err)
	}
	c.mu.Lock()
	old := c.conns
	c.creds, c.conns = creds, make(map[string]*grpc.ClientConn)
	c.mu.Unlock()
	for _, conn := range old {
		_ = conn.Close()
	}
	return nil
}

// conn returns the connection to addr, made on first use.
func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if conn := c.conns[addr]; conn != nil {
		return conn, nil
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(c.creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: c.opts.InitialBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: c.opts.MaxBackoff},
			MinConnectTimeout: c.opts.AttemptTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	)
	if err != nil {
		return nil, fmt.Errorf("access point %s: %w", addr, err)
	}
	c.conns[addr] = conn
	return conn, nil
}

// GetAttachInfo calls GetAttachInfo on the access points (see invoke).
func (c *Client) GetAttachInfo(ctx context.Context, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error) {
	resp := new(mgmtv1.GetAttachInfoResp)
	if err := c.invoke(ctx, GetAttachInfoPath, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// PoolEvict calls PoolEvict on the access points (see invoke).
func (c *Client) PoolEvict(ctx context.Context, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	resp := new(mgmtv1.PoolEvictResp)
	if err := c.invoke(ctx, PoolEvictPath, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// ServerError is a call the server answered with an error status (a wrong
// system name, a method it does not have): trying another access point or
// again would not help.
type ServerError struct {
	// Addr is the access point that answered.
	Addr string
	// Code is the gRPC status code.
	Code codes.Code
	// Msg is the server's message.
	Msg string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("access point %s answered %s: %s", e.Addr, e.Code, e.Msg)
}

// answered reports whether err is the server's answer, rather than a
// failure to reach it.
func answered(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unimplemented, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.OutOfRange, codes.Internal:
		return true
	}
	return false
}

// invoke calls method on the access point that answered last, then on each
// other in turn; after a round where all failed, it waits (a backoff that
// grows from InitialBackoff to MaxBackoff, with jitter) and goes round
// again, until ctx ends. Only idempotent methods go through it (both are).
// The error is the last access point's, or a *ServerError.
func (c *Client) invoke(ctx context.Context, method string, req, resp proto.Message) error {
	if len(c.addrs) == 0 {
		return ErrNoAccessPoints
	}
	wait := c.opts.InitialBackoff
	for round := 1; ; round++ {
		c.mu.Lock()
		start := c.preferred
		c.mu.Unlock()
		var lastErr error
		for i := range c.addrs {
			idx := (start + i) % len(c.addrs)
			addr := c.addrs[idx]
			conn, err := c.conn(addr)
			if err != nil {
				if errors.Is(err, ErrClosed) {
					return err
				}
				lastErr = err
				continue
			}
			actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
			err = conn.Invoke(actx, method, req, resp)
			cancel()
			if err != nil && ctx.Err() != nil {
				// The caller's time is up: that says nothing of the access
				// point.
				if lastErr == nil {
					lastErr = fmt.Errorf("access point %s: %w", addr, err)
				}
				return fmt.Errorf("%w (after %d rounds of %d access points; last error: %w)", ctx.Err(), round, len(c.addrs), lastErr)
			}
			if err == nil {
				c.success(idx, addr, method)
				return nil
			}
			if answered(err) {
				c.success(idx, addr, method)
				s := status.Convert(err)
				return &ServerError{Addr: addr, Code: s.Code(), Msg: s.Message()}
			}
			lastErr = fmt.Errorf("access point %s: %w", addr, err)
			c.failure(addr, method, err)
		}
		timer := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (after %d rounds of %d access points; last error: %w)", ctx.Err(), round, len(c.addrs), lastErr)
		case <-timer.C:
		}
		wait = min(2*wait, c.opts.MaxBackoff)
	}
}

// success notes that addr answered: it is tried first from now on, and a
// change of access point is logged.
func (c *Client) success(idx int, addr, method string) {
	c.mu.Lock()
	changed := c.answered != addr
	prev := c.answered
	c.preferred, c.answered = idx, addr
	hadErr := c.lastErr[addr] != ""
	delete(c.lastErr, addr)
	c.mu.Unlock()
	if changed || hadErr {
		attrs := []any{"access_point", addr, "method", method, "tls", !c.opts.TLS.AllowInsecure}
		if prev != "" && prev != addr {
			attrs = append(attrs, "previous", prev)
		}
		c.log.Info("management service access point answered", attrs...)
	}
}

// failure logs that a call to addr failed, at warn level when its error
// changed, at debug level when it is the same again.
func (c *Client) failure(addr, method string, err error) {
	msg := status.Convert(err).Message()
	hint := tlsconfig.Hint(errors.New(msg), c.opts.TLS.AllowInsecure)
	key := msg // the same trouble may come as different errors (EOF, reset): the hint names it
	if hint != "" {
		key = hint
	}
	c.mu.Lock()
	same := c.lastErr[addr] == key
	c.lastErr[addr] = key
	c.mu.Unlock()
	attrs := []any{"access_point", addr, "method", method, "err", msg}
	if hint != "" {
		attrs = append(attrs, "hint", hint)
	}
	if same {
		c.log.Debug("management service access point failed again", attrs...)
		return
	}
	c.log.Warn("management service access point failed", attrs...)
}

// Close closes the connections; calls in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = make(map[string]*grpc.ClientConn)
	c.mu.Unlock()
	var errs []error
	for _, conn := range conns {
		if err := conn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
