package mgmtagent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// DAOS error numbers of the replies (negated on the wire).
const (
	// StatusInvalid is -DER_INVAL: another system's name, or a pool or
	// handle that is not a UUID.
	StatusInvalid int32 = -1003
	// StatusUnreachable is -DER_UNREACH: no attach info could be had from
	// the server (and none is cached).
	StatusUnreachable int32 = -1006
	// StatusBusy is -DER_BUSY: the process monitor is full (see
	// MaxProcesses).
	StatusBusy int32 = -1012
	// StatusFailure is -DER_MISC: anything else.
	StatusFailure int32 = -1025
)

// Upstream is the server, as the module needs it; *mgmtclient.Client is
// one.
type Upstream interface {
	GetAttachInfo(ctx context.Context, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error)
	PoolEvict(ctx context.Context, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error)
}

// Options configure a Service.
type Options struct {
	// System is the system name the agent serves (its configuration's
	// name); requests for another are refused.
	System string
	// Upstream is the server; nil (no access point) makes 206 answer
	// -DER_UNREACH and leaves handles unwatched.
	Upstream Upstream
	// TTL is how long the attach info is used before it is fetched again;
	// 0 turns the cache off (every 206 asks the server).
	TTL time.Duration
	// Machine is this node's name in evictions; empty means the host name.
	Machine string
	// EvictTimeout is how long the agent tries to evict the handles of an
	// exited process; 0 means DefaultEvictTimeout.
	EvictTimeout time.Duration
	// Logger receives the module's records; nil discards them.
	Logger *slog.Logger
}

// Service implements the agent's methods of mgmtv1drpc.MgmtServiceServer.
type Service struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	opts  Options
	log   *slog.Logger
	cache *attachCache
	procs *table

	mu     sync.Mutex
	cancel context.CancelFunc // stops the refresher
	done   chan struct{}
}

// New returns the module's implementation; Start starts its background
// work.
func New(opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Machine == "" {
		opts.Machine, _ = os.Hostname()
	}
	if opts.EvictTimeout <= 0 {
		opts.EvictTimeout = DefaultEvictTimeout
	}
	s := &Service{opts: opts, log: log}
	s.cache = newAttachCache(s.fetch, opts.TTL, log, time.Now)
	s.procs = newTable(s.evict, opts.System, opts.Machine, opts.EvictTimeout, log)
	return s
}

// fetch asks the server for the attach info of the agent's system.
func (s *Service) fetch(ctx context.Context) (*mgmtv1.GetAttachInfoResp, error) {
	if s.opts.Upstream == nil {
		return nil, ErrNoUpstream
	}
	return s.opts.Upstream.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{Sys: s.opts.System, AllRanks: true})
}

// evict asks the server to evict handles.
func (s *Service) evict(ctx context.Context, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	if s.opts.Upstream == nil {
		return nil, ErrNoUpstream
	}
	return s.opts.Upstream.PoolEvict(ctx, req)
}

// Module returns the module to register on the agent's server.
func (s *Service) Module() drpc.Module { return mgmtv1drpc.NewMgmtServiceModule(s) }

// Start starts the attach info's background refresh (its first fetch at
// once, so that the first client finds the cache warm).
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("mgmt module: already started")
	}
	if s.opts.Upstream == nil {
		s.log.Warn("no access_points: the agent cannot get the attach info (206 answers -DER_UNREACH) " +
			"nor evict the pool handles of processes that die")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		if s.opts.Upstream != nil {
			s.cache.run(ctx)
		}
	}()
	return nil
}

// Refresh fetches the attach info again now, in the background (SIGUSR2);
// until it arrives, calls are answered from the cache.
func (s *Service) Refresh() { s.cache.refreshSoon() }

// Stop stops the refresh and the process monitor; evictions in flight may
// finish until ctx ends.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	s.procs.stop(ctx)
	return nil
}

// Processes returns the watched processes and their handles.
func (s *Service) Processes() []Process { return s.procs.snapshot() }

// checkSystem reports whether sys names the agent's system ("" does).
func (s *Service) checkSystem(sys string) bool { return sys == "" || sys == s.opts.System }

// GetAttachInfo answers 206 from the cache (see the package doc).
func (s *Service) GetAttachInfo(ctx context.Context, sess *drpc.Session, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error) {
	if !s.checkSystem(req.GetSys()) {
		s.log.Warn("attach info refused: another system", "system", req.GetSys(), "mine", s.opts.System, "pid", pid(sess))
		return &mgmtv1.GetAttachInfoResp{Status: StatusInvalid}, nil
	}
	resp, err := s.cache.get(ctx)
	if err != nil {
		s.log.Warn("attach info unavailable", "pid", pid(sess), "err", err)
		return &mgmtv1.GetAttachInfoResp{Status: StatusUnreachable}, nil
	}
	return resp, nil
}

// NotifyPoolConnect records a pool handle of the calling process (235).
func (s *Service) NotifyPoolConnect(_ context.Context, sess *drpc.Session, req *mgmtv1.PoolMonitorReq) (*mgmtv1.DaosResp, error) {
	if st := s.checkMonitor(sess, req, "connect"); st != 0 {
		return &mgmtv1.DaosResp{Status: st}, nil
	}
	if s.opts.Upstream == nil {
		return &mgmtv1.DaosResp{}, nil // nobody to evict with: nothing to keep
	}
	cred := sess.PeerCredentials()
	key := s.key(req)
	if err := s.procs.add(cred.PID, cred.UID, key, req.GetJobid()); err != nil {
		status := StatusFailure
		if errors.Is(err, ErrFull) {
			status = StatusBusy
		}
		s.log.Warn("pool connect not recorded", "pid", cred.PID, "uid", cred.UID, "pool", key.pool, "handle", key.handle, "err", err)
		return &mgmtv1.DaosResp{Status: status}, nil
	}
	s.log.Debug("pool connect", "pid", cred.PID, "uid", cred.UID, "pool", key.pool, "handle", key.handle, "jobid", req.GetJobid())
	return &mgmtv1.DaosResp{}, nil
}

// NotifyPoolDisconnect forgets a pool handle of the calling process (236).
func (s *Service) NotifyPoolDisconnect(_ context.Context, sess *drpc.Session, req *mgmtv1.PoolMonitorReq) (*mgmtv1.DaosResp, error) {
	if st := s.checkMonitor(sess, req, "disconnect"); st != 0 {
		return &mgmtv1.DaosResp{Status: st}, nil
	}
	pid := sess.PeerCredentials().PID
	known := s.procs.remove(pid, s.key(req))
	s.log.Debug("pool disconnect", "pid", pid, "pool", req.GetPoolUuid(), "handle", req.GetPoolHandleUuid(), "known", known)
	return &mgmtv1.DaosResp{}, nil
}

// NotifyExit forgets the calling process's handles without evicting them
// (233): it exits cleanly.
func (s *Service) NotifyExit(_ context.Context, sess *drpc.Session, _ *emptypb.Empty) (*mgmtv1.DaosResp, error) {
	pid := pid(sess)
	n := s.procs.forget(pid)
	s.log.Debug("process exits cleanly", "pid", pid, "handles_forgotten", n)
	return &mgmtv1.DaosResp{}, nil
}

// key names the handle of a 235/236 request; an empty system name is the
// agent's.
func (s *Service) key(req *mgmtv1.PoolMonitorReq) handleKey {
	sys := req.GetSys()
	if sys == "" {
		sys = s.opts.System
	}
	return handleKey{sys: sys, pool: req.GetPoolUuid(), handle: req.GetPoolHandleUuid()}
}

// checkMonitor checks a 235/236 request and returns the status to refuse
// it with, or 0.
func (s *Service) checkMonitor(sess *drpc.Session, req *mgmtv1.PoolMonitorReq, what string) int32 {
	switch {
	case !s.checkSystem(req.GetSys()):
		s.log.Warn("pool "+what+" refused: another system", "system", req.GetSys(), "mine", s.opts.System, "pid", pid(sess))
		return StatusInvalid
	case !mgmtv1.IsUUID(req.GetPoolUuid()) || !mgmtv1.IsUUID(req.GetPoolHandleUuid()):
		s.log.Warn("pool "+what+" refused: the pool or handle is not a UUID", "pool", req.GetPoolUuid(), "handle", req.GetPoolHandleUuid(), "pid", pid(sess))
		return StatusInvalid
	}
	return 0
}

// pid returns the caller's pid, from the socket.
func pid(sess *drpc.Session) int32 {
	if sess == nil {
		return 0
	}
	return sess.PeerCredentials().PID
}
