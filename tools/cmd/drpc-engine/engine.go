package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// mgmt serves the mgmt module of one engine.
type mgmt struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	log *slog.Logger
	// newServer is called, outside mu, when a server process other than
	// the one that called before calls: a new server adopted the engine.
	newServer func(pid int32)

	mu        sync.Mutex
	rank      uint32
	rankSet   bool
	prepared  bool
	serverPID int32             // the process of the server that called last; 0 before the first call
	evicted   map[string]string // handle UUID -> pool UUID, of every handle evicted (230)
}

// called notes the server process that made a call (from the session's
// peer credentials), and reports a new one.
func (m *mgmt) called(s *drpc.Session) {
	pid := s.PeerCredentials().PID
	m.mu.Lock()
	prev := m.serverPID
	m.serverPID = pid
	m.mu.Unlock()
	if prev != 0 && pid != prev && m.newServer != nil {
		m.newServer(pid)
	}
}

// SetRank remembers the rank (202). A rank from a server after a prepare
// for shutdown means that a server (a new one, or the same one again) uses
// the engine again: it is no longer prepared.
func (m *mgmt) SetRank(_ context.Context, s *drpc.Session, req *mgmtv1.SetRankReq) (*mgmtv1.DaosResp, error) {
	m.mu.Lock()
	m.rank, m.rankSet = req.GetRank(), true
	wasPrepared := m.prepared
	m.prepared = false
	m.mu.Unlock()
	m.log.Info("set rank", "rank", req.GetRank(), "map_version", req.GetMapVersion(), "peer_pid", s.PeerCredentials().PID)
	if wasPrepared {
		m.log.Info("a server set the rank after a prepare for shutdown: in use again")
	}
	m.called(s)
	return &mgmtv1.DaosResp{}, nil
}

// PrepShutdown notes that the server prepared the engine for shutdown (218).
// The engine keeps running until it is told to stop (SIGINT, SIGTERM), as
// the server may start again and adopt it.
func (m *mgmt) PrepShutdown(_ context.Context, s *drpc.Session, req *mgmtv1.PrepShutdownReq) (*mgmtv1.DaosResp, error) {
	m.mu.Lock()
	m.prepared = true
	m.mu.Unlock()
	m.log.Info("prep shutdown", "rank", req.GetRank(), "peer_pid", s.PeerCredentials().PID)
	m.called(s)
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
	m.called(s)
	return &mgmtv1.DaosResp{}, nil
}

// serve runs the engine until ctx ends.
func serve(ctx context.Context, dir string, index uint32, log *slog.Logger) error {
	path := filepath.Join(dir, fmt.Sprintf(engineSocket, index))
	renotify := make(chan int32, 1)
	m := &mgmt{log: log, newServer: func(pid int32) {
		select {
		case renotify <- pid:
		default: // one is already due
		}
	}}
	srv, err := drpc.NewDomainSocketServer(path, drpc.WithLogger(log), drpc.WithSocketMode(0o600))
	if err != nil {
		return listenError(path, index, err)
	}
	if err := srv.RegisterRPCModule(mgmtv1drpc.NewMgmtServiceModule(m)); err != nil {
		return err
	}
	if err := srv.Start(context.WithoutCancel(ctx)); err != nil {
		return listenError(path, index, err)
	}
	log.Info("engine listening", "socket", path, "pid", os.Getpid())
	stopServer := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}

	n := newNotifier(dir, index, path, log)
	if err := n.notify(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("engine stopping before the server was reached")
			return stopServer()
		}
		_ = stopServer()
		return err
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case pid := <-renotify:
			// A new server adopted the engine (it restarted while the
			// engine ran): tell it what only a notification says.
			log.Info("a new server process calls this engine: notifying it ready again", "server_pid", pid)
			if err := n.notify(ctx); err != nil && ctx.Err() == nil {
				log.Warn("notify ready again failed", "err", err)
			}
		}
	}
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
