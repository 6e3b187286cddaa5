// Command drpc-engine is a stand-in for a DAOS I/O engine, so that
// drpc-server can be run and tested for real, and a small model of what an
// engine does over dRPC:
//
//	drpc-engine --socket-dir DIR --index N
//
// listens on DIR/daos_engine<N>.sock (mode 0600) and serves the mgmt module
// (2): set rank (202, the rank is remembered), prepare for shutdown (218),
// ping (225) and pool evict (230: each handle is recorded once and logged,
// msg="pool handle evicted" with the pool and handle UUIDs), logging each
// call. It then tells the server on
// DIR/daos_server.sock that it is ready (srv module, method 301), retrying
// until the server is up, and runs until SIGINT or SIGTERM, when it removes
// its socket and exits 0 (whether or not the server prepared it for
// shutdown).
//
//	drpc-engine event --socket-dir DIR --index N --msg TEXT
//
// sends one RAS event to the server (method 304) and prints the reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1"
	srvv1drpc "github.com/cc532012/drpc/api/srv/v1"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

// Socket names in the socket directory, as DAOS names them.
const (
	serverSocket = "daos_server.sock"
	engineSocket = "daos_engine%d.sock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code: 0, 1 for a
// failure, 2 for a usage mistake.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "drpc-engine: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks a command-line mistake.
type usageError struct{ error }

// Unwrap returns the mistake.
func (e usageError) Unwrap() error { return e.error }

// common are the flags of both commands.
type common struct {
	socketDir string
	index     uint32
	logLevel  string
}

func (c *common) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.socketDir, "socket-dir", "", "`DIR` of the server's socket and of this engine's (required)")
	cmd.Flags().Uint32Var(&c.index, "index", 0, "the engine's instance `N`: its socket is DIR/daos_engine<N>.sock")
	cmd.Flags().StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

func (c *common) check() error {
	if c.socketDir == "" {
		return usageError{errors.New("--socket-dir is required: give the server's socket directory")}
	}
	return nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("index", c.index), nil
}

func newRoot() *cobra.Command {
	var c common
	root := &cobra.Command{
		Use:   "drpc-engine --socket-dir DIR --index N",
		Short: "A stand-in DAOS I/O engine: serves mgmt 202/218/225/230 and notifies drpc-server",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q", args[0])}
			}
			return nil
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.check(); err != nil {
				return err
			}
			log, err := c.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), c.socketDir, c.index, log)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	c.add(root)
	root.AddCommand(eventCommand())
	return root
}

// mgmt serves the mgmt module of one engine.
type mgmt struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	log *slog.Logger

	mu       sync.Mutex
	rank     uint32
	rankSet  bool
	prepared bool
	evicted  map[string]string // handle UUID -> pool UUID, of every handle evicted
}

// statusInvalid is -DER_INVAL, the PoolEvictResp status of a request whose
// pool or handle is not a UUID.
const statusInvalid = -1003

// PoolEvict records and logs the handles it names (230). A handle evicted
// before is not counted again: count is the number of handles evicted by
// this call. A request without handles (DAOS: every handle of the pool)
// evicts nothing here, since this stand-in holds no pool.
func (m *mgmt) PoolEvict(_ context.Context, s *drpc.Session, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	pid := s.PeerCredentials().PID
	if !isUUID(req.GetId()) {
		m.log.Warn("pool evict refused: the pool is not a UUID", "pool", req.GetId(), "peer_pid", pid)
		return &mgmtv1.PoolEvictResp{Status: statusInvalid}, nil
	}
	for _, h := range req.GetHandles() {
		if !isUUID(h) {
			m.log.Warn("pool evict refused: a handle is not a UUID", "pool", req.GetId(), "handle", h, "peer_pid", pid)
			return &mgmtv1.PoolEvictResp{Status: statusInvalid}, nil
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.evicted == nil {
		m.evicted = make(map[string]string)
	}
	var count int32
	for _, h := range req.GetHandles() {
		if _, done := m.evicted[h]; done {
			m.log.Info("pool handle already evicted", "pool", req.GetId(), "handle", h, "machine", req.GetMachine())
			continue
		}
		m.evicted[h] = req.GetId()
		count++
		m.log.Info("pool handle evicted", "pool", req.GetId(), "handle", h, "machine", req.GetMachine(), "rank", m.rank, "peer_pid", pid)
	}
	if len(req.GetHandles()) == 0 {
		m.log.Info("pool evict without handles: nothing to evict on this stand-in", "pool", req.GetId(), "machine", req.GetMachine())
	}
	return &mgmtv1.PoolEvictResp{Count: count}, nil
}

// isUUID reports whether s is a UUID in its text form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits of either case).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// SetRank remembers the rank (202).
func (m *mgmt) SetRank(_ context.Context, s *drpc.Session, req *mgmtv1.SetRankReq) (*mgmtv1.DaosResp, error) {
	m.mu.Lock()
	m.rank, m.rankSet = req.GetRank(), true
	m.mu.Unlock()
	m.log.Info("set rank", "rank", req.GetRank(), "map_version", req.GetMapVersion(), "peer_pid", s.PeerCredentials().PID)
	return &mgmtv1.DaosResp{}, nil
}

// PrepShutdown notes that the server prepared the engine for shutdown (218).
func (m *mgmt) PrepShutdown(_ context.Context, s *drpc.Session, req *mgmtv1.PrepShutdownReq) (*mgmtv1.DaosResp, error) {
	m.mu.Lock()
	m.prepared = true
	m.mu.Unlock()
	m.log.Info("prep shutdown", "rank", req.GetRank(), "peer_pid", s.PeerCredentials().PID)
	return &mgmtv1.DaosResp{}, nil
}

// PingRank answers a ping (225), and warns if it names another rank.
func (m *mgmt) PingRank(_ context.Context, s *drpc.Session, req *mgmtv1.PingRankReq) (*mgmtv1.DaosResp, error) {
	m.mu.Lock()
	rank, set := m.rank, m.rankSet
	m.mu.Unlock()
	m.log.Info("ping rank", "rank", req.GetRank(), "peer_pid", s.PeerCredentials().PID)
	if set && req.GetRank() != rank {
		m.log.Warn("ping for another rank", "rank", req.GetRank(), "mine", rank)
	}
	return &mgmtv1.DaosResp{}, nil
}

// serve runs the engine until ctx ends.
func serve(ctx context.Context, dir string, index uint32, log *slog.Logger) error {
	path := filepath.Join(dir, fmt.Sprintf(engineSocket, index))
	m := &mgmt{log: log}
	srv, err := drpc.NewDomainSocketServer(path, drpc.WithLogger(log), drpc.WithSocketMode(0o600))
	if err != nil {
		return fmt.Errorf("engine socket: %w", err)
	}
	if err := srv.RegisterRPCModule(mgmtv1drpc.NewMgmtServiceModule(m)); err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("engine socket: %w", err)
	}
	log.Info("engine listening", "socket", path, "pid", os.Getpid())
	stopServer := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}

	if err := notifyReady(ctx, dir, index, path, log); err != nil {
		if ctx.Err() != nil {
			log.Info("engine stopping before the server was reached")
			return stopServer()
		}
		_ = stopServer()
		return err
	}
	<-ctx.Done()
	m.mu.Lock()
	prepared := m.prepared
	m.mu.Unlock()
	log.Info("engine stopping", "prepared_for_shutdown", prepared)
	if err := stopServer(); err != nil {
		return fmt.Errorf("engine shutdown: %w", err)
	}
	log.Info("engine stopped")
	return nil
}

// notifyReady calls the server's notify ready (301), retrying while the
// server is not up (its socket is missing or refuses), until ctx ends.
func notifyReady(ctx context.Context, dir string, index uint32, path string, log *slog.Logger) error {
	req := &srvv1.NotifyReadyReq{
		Uri:              "tcp://127.0.0.1:" + strconv.Itoa(31416+int(index)),
		Nctxs:            1,
		DrpcListenerSock: path,
		InstanceIdx:      index,
		Ntgts:            1,
		Incarnation:      uint64(time.Now().UnixNano()),
	}
	server := filepath.Join(dir, serverSocket)
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := call(ctx, server, func(conn *drpc.ClientConnection) error {
			_, err := srvv1drpc.NewSrvServiceClient(conn).NotifyReady(ctx, req)
			return err
		})
		if err == nil {
			log.Info("notified the server", "server", server, "attempts", attempt)
			return nil
		}
		if !notUp(err) {
			return fmt.Errorf("notify ready to the server on %s: %w", server, err)
		}
		if attempt == 1 {
			log.Info("waiting for the server", "server", server, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// notUp reports whether err means that the server is not listening yet.
func notUp(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN)
}

// call connects to the socket, runs fn and hangs up.
func call(ctx context.Context, socket string, fn func(*drpc.ClientConnection) error) error {
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		return err
	}
	defer conn.Close()
	return fn(conn)
}

func eventCommand() *cobra.Command {
	var (
		c         common
		msg       string
		id        uint32
		eventType uint32
		severity  uint32
		sequence  uint64
		rank      uint32
	)
	cmd := &cobra.Command{
		Use:   "event --socket-dir DIR --index N --msg TEXT",
		Short: "Send a RAS event to the server (method 304) and print the reply",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.check(); err != nil {
				return err
			}
			if msg == "" {
				return usageError{errors.New("--msg is required: give the event's message")}
			}
			if !cmd.Flags().Changed("rank") {
				rank = c.index
			}
			host, _ := os.Hostname()
			req := &srvv1.ClusterEventReq{Sequence: sequence, Event: &srvv1.RASEvent{
				Id:           id,
				Msg:          msg,
				Timestamp:    time.Now().Format(time.RFC3339Nano),
				Type:         eventType,
				Severity:     severity,
				Hostname:     host,
				Rank:         rank,
				ProcId:       uint64(os.Getpid()),
				ExtendedInfo: &srvv1.RASEvent_StrInfo{StrInfo: fmt.Sprintf("engine instance %d", c.index)},
			}}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			server := filepath.Join(c.socketDir, serverSocket)
			var resp *srvv1.ClusterEventResp
			err := call(ctx, server, func(conn *drpc.ClientConnection) error {
				var err error
				resp, err = srvv1drpc.NewSrvServiceClient(conn).ClusterEvent(ctx, req)
				return err
			})
			if err != nil {
				return fmt.Errorf("cluster event to the server on %s: %w", server, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "sequence %d status %d\n", resp.GetSequence(), resp.GetStatus())
			if err == nil && resp.GetStatus() != 0 {
				err = fmt.Errorf("the server refused the event: status %d", resp.GetStatus())
			}
			return err
		},
	}
	c.add(cmd)
	fs := cmd.Flags()
	fs.StringVar(&msg, "msg", "", "the event's message (required)")
	fs.Uint32Var(&id, "id", 1, "the event's ID")
	fs.Uint32Var(&eventType, "type", 0, "the event's type")
	fs.Uint32Var(&severity, "severity", 1, "the event's severity")
	fs.Uint64Var(&sequence, "sequence", 1, "the event's sequence number")
	fs.Uint32Var(&rank, "rank", 0, "the rank the event is about (default: the index)")
	return cmd
}
