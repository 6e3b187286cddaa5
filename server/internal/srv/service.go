package srv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/drpc"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	"github.com/cc532012/drpc/server/internal/engine"
)

// Errors of notify ready, which the server logs; the engine gets
// STATUS_FAILURE with the error's text as the reason (say why, and what to
// do).
var (
	// ErrUnknownIndex: the engine's index is not one the configuration lists.
	ErrUnknownIndex = errors.New("engine index is not configured")
	// ErrBadSocket: the engine's socket path is not a socket inside the
	// server's socket directory.
	ErrBadSocket = errors.New("engine socket is not a socket in the socket directory")
)

// StatusInvalid is the ClusterEventResp status of an event without its
// RAS event: -DER_INVAL, as DAOS writes it.
const StatusInvalid = -1003

// Registry is what the module needs of the engine registry.
type Registry interface {
	Ready(info engine.Info) error
}

// Options configure the module.
type Options struct {
	// SocketDir is the directory where engines' sockets must be.
	SocketDir string
	// ServerSocket is the server's own socket, which no engine may claim.
	ServerSocket string
	// Indexes are the engine indexes the configuration lists; empty
	// accepts any index.
	Indexes []uint32
	// Registry receives the engines that notified ready.
	Registry Registry
	// Events keeps the events received; nil means NewEvents(0).
	Events *Events
	// Logger receives the module's records; nil discards them.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Service implements srvv1drpc.SrvServiceServer.
type Service struct {
	srvv1drpc.UnimplementedSrvServiceServer
	opts Options
	log  *slog.Logger
}

// New returns the srv module's implementation.
func New(opts Options) *Service {
	if opts.Events == nil {
		opts.Events = NewEvents(0)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, log: log}
}

// Module returns the module to register on the server.
func (s *Service) Module() drpc.Module { return srvv1drpc.NewSrvServiceModule(s) }

// Events returns the module's event log.
func (s *Service) Events() *Events { return s.opts.Events }

// NotifyReady checks and records a started engine (method 301).
func (s *Service) NotifyReady(_ context.Context, sess *drpc.Session, req *srvv1.NotifyReadyReq) (*srvv1.NotifyReadyResp, error) {
	pid := peerPID(sess)
	if err := s.checkReady(req); err != nil {
		s.log.Warn("engine notify ready refused", "index", req.GetInstanceIdx(), "socket", req.GetDrpcListenerSock(), "pid", pid, "err", err)
		return nil, drpc.WrapFailure(drpc.StatusFailure, err)
	}
	info := engine.Info{
		Index:       req.GetInstanceIdx(),
		Socket:      filepath.Clean(req.GetDrpcListenerSock()),
		PID:         pid,
		Incarnation: req.GetIncarnation(),
		URI:         req.GetUri(),
		Nctxs:       req.GetNctxs(),
	}
	if err := s.opts.Registry.Ready(info); err != nil {
		if errors.Is(err, engine.ErrClosed) {
			err = fmt.Errorf("%w: notify ready again once the server is back", err)
		}
		s.log.Warn("engine notify ready refused", "index", info.Index, "pid", pid, "err", err)
		return nil, drpc.WrapFailure(drpc.StatusFailure, err)
	}
	return &srvv1.NotifyReadyResp{}, nil
}

// checkReady checks a notify ready request: a configured index and a socket
// directly inside the socket directory.
func (s *Service) checkReady(req *srvv1.NotifyReadyReq) error {
	idx := req.GetInstanceIdx()
	if len(s.opts.Indexes) > 0 && !slices.Contains(s.opts.Indexes, idx) {
		return fmt.Errorf("%w: index %d (the configuration lists %s): add it under engines, or start the engine with a listed index",
			ErrUnknownIndex, idx, formatIndexes(s.opts.Indexes))
	}
	path := req.GetDrpcListenerSock()
	if path == "" {
		return fmt.Errorf("%w: the request names no socket (drpcListenerSock): give the engine's socket in %s", ErrBadSocket, s.opts.SocketDir)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%w: %q is not an absolute path: give the engine's socket as an absolute path in %s", ErrBadSocket, path, s.opts.SocketDir)
	}
	clean := filepath.Clean(path)
	if !sameDir(filepath.Dir(clean), s.opts.SocketDir) {
		return fmt.Errorf("%w: %s is not in %s: start the engine with the server's socket directory", ErrBadSocket, clean, s.opts.SocketDir)
	}
	if s.opts.ServerSocket != "" && clean == filepath.Clean(s.opts.ServerSocket) {
		return fmt.Errorf("%w: %s is the server's own socket: give the engine's own socket (daos_engine<N>.sock)", ErrBadSocket, clean)
	}
	st, err := os.Lstat(clean)
	if err != nil {
		return fmt.Errorf("%w: %w: the engine must listen on its socket before it notifies ready", ErrBadSocket, err)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%w: %s is not a socket (%v): the engine must listen on its socket before it notifies ready", ErrBadSocket, clean, st.Mode().Type())
	}
	return nil
}

// sameDir reports whether the directories a and b are the same: the same
// clean path, or the same directory once symbolic links are resolved
// (/var/run/daos_server and /run/daos_server).
func sameDir(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return true
	}
	ra, err := filepath.EvalSymlinks(a)
	if err != nil {
		return false
	}
	rb, err := filepath.EvalSymlinks(b)
	return err == nil && ra == rb
}

func formatIndexes(idx []uint32) string {
	s := make([]string, len(idx))
	for i, v := range idx {
		s[i] = strconv.FormatUint(uint64(v), 10)
	}
	return fmt.Sprint(s)
}

// ClusterEvent logs and keeps a RAS event (method 304). Fields over the
// limits of BoundEvent are cut (the event is kept, the reply's status is
// 0, and the log line says which fields were cut and their sizes), and
// each string of the log line is shortened to MaxLogFieldBytes.
func (s *Service) ClusterEvent(_ context.Context, sess *drpc.Session, req *srvv1.ClusterEventReq) (*srvv1.ClusterEventResp, error) {
	pid := peerPID(sess)
	ev, cut := BoundEvent(req.GetEvent())
	if ev == nil {
		s.log.Warn("cluster event without an event", "sequence", req.GetSequence(), "pid", pid)
		return &srvv1.ClusterEventResp{Sequence: req.GetSequence(), Status: StatusInvalid}, nil
	}
	short := func(v string) string { return Shorten(v, MaxLogFieldBytes) }
	attrs := []any{
		"sequence", req.GetSequence(), "pid", pid,
		"id", ev.GetId(), "msg", short(ev.GetMsg()), "timestamp", short(ev.GetTimestamp()),
		"type", ev.GetType(), "severity", ev.GetSeverity(), "hostname", short(ev.GetHostname()),
		"rank", ev.GetRank(), "incarnation", ev.GetIncarnation(),
	}
	for _, f := range []struct {
		key string
		val string
	}{
		{"hw_id", ev.GetHwId()}, {"job_id", ev.GetJobId()}, {"pool_uuid", ev.GetPoolUuid()},
		{"cont_uuid", ev.GetContUuid()}, {"obj_id", ev.GetObjId()}, {"ctl_op", ev.GetCtlOp()},
		{"str_info", ev.GetStrInfo()},
	} {
		if f.val != "" {
			attrs = append(attrs, f.key, short(f.val))
		}
	}
	if ev.GetProcId() != 0 {
		attrs = append(attrs, "proc_id", ev.GetProcId())
	}
	if ev.GetThreadId() != 0 {
		attrs = append(attrs, "thread_id", ev.GetThreadId())
	}
	if es := ev.GetEngineStateInfo(); es != nil {
		attrs = append(attrs, "engine_instance", es.GetInstance(), "engine_errored", es.GetErrored(), "engine_error", short(es.GetError()))
	}
	if ps := ev.GetPoolSvcInfo(); ps != nil {
		reps := ps.GetSvcReps()
		attrs = append(attrs, "svc_reps", reps[:min(len(reps), 16)], "svc_version", ps.GetVersion())
	}
	level := slog.LevelInfo
	if len(cut) > 0 {
		// Not refused, so that the event is not lost; but a sender that
		// goes over the limits is broken (or hostile): say so.
		level = slog.LevelWarn
		attrs = append(attrs, "cut", strings.Join(cut, ", "))
	}
	s.log.Log(context.Background(), level, "cluster event", attrs...)
	s.opts.Events.Add(Event{Received: s.opts.Now(), Sequence: req.GetSequence(), PID: pid, RAS: ev})
	return &srvv1.ClusterEventResp{Sequence: req.GetSequence()}, nil
}

func peerPID(sess *drpc.Session) int32 {
	if sess == nil {
		return 0
	}
	return sess.PeerCredentials().PID
}
