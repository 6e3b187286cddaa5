package main

import (
	"context"

	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// statusInvalid is -DER_INVAL, the PoolEvictResp status of a request whose
// pool or handle is not a UUID.
const statusInvalid = -1003

// PoolEvict records and logs the handles it names (230). A handle evicted
// before is not counted again: count is the number of handles evicted by
// this call. A request without handles (DAOS: every handle of the pool)
// evicts nothing here, since this stand-in holds no pool.
func (m *mgmt) PoolEvict(_ context.Context, s *drpc.Session, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	pid := s.PeerCredentials().PID
	if !mgmtv1.IsUUID(req.GetId()) {
		m.log.Warn("pool evict refused: the pool is not a UUID", "pool", req.GetId(), "peer_pid", pid)
		return &mgmtv1.PoolEvictResp{Status: statusInvalid}, nil
	}
	for _, h := range req.GetHandles() {
		if !mgmtv1.IsUUID(h) {
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
