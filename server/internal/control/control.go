// Package control is the server's status channel: the control module
// (dRPC module 1000, drpc.control.v1.ControlService), which this project
// owns, served on the server's own socket next to DAOS's modules. Its one
// method, GetStatus (100001), returns the engines the server knows (index,
// rank, state, socket, last ping...), the last RAS events it received and
// the last pool evictions the agents asked for;
// `drpc-server status` calls it.
//
// Why a module on the server's socket rather than another channel: the
// socket already exists, has the right permissions (0600: only the server's
// user can connect), and speaks dRPC, so the status needs no second socket,
// file or port, and the schema describes it like every other call. Module ID
// 1000 is far from DAOS's modules (0 to 4), so a module DAOS adds cannot
// collide with it. Only processes of the server's own user may call it: the
// module checks the caller's uid (from SO_PEERCRED) itself, in case the
// socket's mode is ever widened.
package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	controlv1drpc "github.com/cc532012/drpc/api/control/v1/controlv1drpc"
	"github.com/cc532012/drpc/drpc"
	controlv1 "github.com/cc532012/drpc/proto/drpc/control/v1"
	"github.com/cc532012/drpc/server/internal/engine"
	"github.com/cc532012/drpc/server/internal/mgmtsvc"
	"github.com/cc532012/drpc/server/internal/srv"
)

// ErrNotAllowed: the caller runs as another user than the server.
var ErrNotAllowed = errors.New("only the server's own user may ask for its status")

// Options configure the module.
type Options struct {
	// Engines lists the engines; Registry.Statuses.
	Engines func() []engine.Status
	// Events is the srv module's event log.
	Events *srv.Events
	// Evictions is the management service's record of pool evictions.
	Evictions *mgmtsvc.Evictions
	// Server describes the server process (pid, socket, start...); the
	// module fills in events_received, events_kept and max_events.
	Server func() *controlv1.ServerStatus
	// UID is the uid allowed to call; the server's (os.Getuid) if negative.
	UID int64
	// MaxEventBytes bounds the encoded size of the events in a reply (the
	// newest are kept); 0 means DefaultMaxEventBytes.
	MaxEventBytes int
}

// DefaultMaxEventBytes bounds the events of a status reply: what the event
// log keeps at most (srv.MaxKeptEventBytes), so that the reply stays far
// below the transport's 64 MiB message limit whatever the engines send.
const DefaultMaxEventBytes = srv.MaxKeptEventBytes

// Service implements controlv1drpc.ControlServiceServer.
type Service struct {
	controlv1drpc.UnimplementedControlServiceServer
	opts Options
}

// New returns the control module's implementation.
func New(opts Options) *Service {
	if opts.UID < 0 {
		opts.UID = int64(os.Getuid())
	}
	if opts.MaxEventBytes <= 0 {
		opts.MaxEventBytes = DefaultMaxEventBytes
	}
	return &Service{opts: opts}
}

// Module returns the module to register on the server.
func (s *Service) Module() drpc.Module { return controlv1drpc.NewControlServiceModule(s) }

// GetStatus returns the engines and the last events (method 100001): the
// newest events kept, as many as asked for and as fit in MaxEventBytes.
func (s *Service) GetStatus(_ context.Context, sess *drpc.Session, req *controlv1.GetStatusReq) (*controlv1.GetStatusResp, error) {
	if sess == nil || int64(sess.PeerCredentials().UID) != s.opts.UID {
		uid := int64(-1)
		if sess != nil {
			uid = int64(sess.PeerCredentials().UID)
		}
		return nil, drpc.WrapFailure(drpc.StatusFailure, fmt.Errorf("%w (caller uid %d, server uid %d)", ErrNotAllowed, uid, s.opts.UID))
	}
	resp := &controlv1.GetStatusResp{}
	if s.opts.Server != nil {
		resp.Server = s.opts.Server()
	}
	if s.opts.Engines != nil {
		for _, st := range s.opts.Engines() {
			resp.Engines = append(resp.Engines, EngineStatus(st))
		}
	}
	if s.opts.Events != nil {
		events, total := s.opts.Events.Last(int(req.GetMaxEvents()))
		events = newestWithin(events, s.opts.MaxEventBytes)
		for _, e := range events {
			resp.Events = append(resp.Events, &controlv1.Event{
				Received: timestamppb.New(e.Received),
				Sequence: e.Sequence,
				Pid:      e.PID,
				Event:    e.RAS,
			})
		}
		if resp.Server == nil {
			resp.Server = &controlv1.ServerStatus{}
		}
		resp.Server.EventsReceived = total
		resp.Server.EventsKept = uint32(s.opts.Events.Len())
		resp.Server.MaxEvents = uint32(s.opts.Events.Cap())
	}
	if s.opts.Evictions != nil {
		kept, total, handles := s.opts.Evictions.Last()
		for _, ev := range kept {
			resp.Evictions = append(resp.Evictions, EvictionStatus(ev))
		}
		if resp.Server == nil {
			resp.Server = &controlv1.ServerStatus{}
		}
		resp.Server.EvictionsReceived = total
		resp.Server.HandlesEvicted = handles
	}
	return resp, nil
}

// newestWithin returns the newest of events (oldest first) whose sizes add
// up to at most limit bytes.
func newestWithin(events []srv.Event, limit int) []srv.Event {
	size := 0
	for i := len(events) - 1; i >= 0; i-- {
		size += events[i].Size()
		if size > limit {
			return events[i+1:]
		}
	}
	return events
}

// EvictionStatus converts a recorded eviction to its message.
func EvictionStatus(ev mgmtsvc.Eviction) *controlv1.Eviction {
	out := &controlv1.Eviction{
		Received: timestamp(ev.Received),
		Pool:     ev.Pool,
		Handles:  ev.Handles,
		Machine:  ev.Machine,
		Peer:     ev.Peer,
		PeerName: ev.PeerName,
		Count:    ev.Count,
	}
	for _, e := range ev.Engines {
		out.Engines = append(out.Engines, &controlv1.EngineEviction{Index: e.Index, Rank: e.Rank, Count: e.Count, Status: e.Status, Error: e.Err})
	}
	return out
}

// EngineStatus converts a registry snapshot to its message.
func EngineStatus(st engine.Status) *controlv1.EngineStatus {
	return &controlv1.EngineStatus{
		Index:       st.Index,
		Rank:        st.Rank,
		State:       State(st.State),
		Socket:      st.Socket,
		LastPing:    timestamp(st.LastPing),
		Notified:    timestamp(st.Notified),
		StateSince:  timestamp(st.Since),
		Pid:         st.PID,
		Incarnation: st.Incarnation,
		Uri:         st.URI,
		RankSet:     st.RankSet,
		Error:       st.Err,
	}
}

// State converts an engine state to its enum value.
func State(s engine.State) controlv1.EngineState {
	switch s {
	case engine.Ready:
		return controlv1.EngineState_ENGINE_STATE_READY
	case engine.Unavailable:
		return controlv1.EngineState_ENGINE_STATE_UNAVAILABLE
	case engine.Stopped:
		return controlv1.EngineState_ENGINE_STATE_STOPPED
	}
	return controlv1.EngineState_ENGINE_STATE_UNSPECIFIED
}

// StateName returns the name `drpc-server status` prints for a state:
// "ready", "unavailable", "stopped", or "unknown".
func StateName(s controlv1.EngineState) string {
	switch s {
	case controlv1.EngineState_ENGINE_STATE_READY:
		return engine.Ready.String()
	case controlv1.EngineState_ENGINE_STATE_UNAVAILABLE:
		return engine.Unavailable.String()
	case controlv1.EngineState_ENGINE_STATE_STOPPED:
		return engine.Stopped.String()
	}
	return "unknown"
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
