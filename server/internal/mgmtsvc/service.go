package mgmtsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	"github.com/cc532012/drpc/server/internal/engine"
)

// DAOS error numbers of the replies (negated on the wire).
const (
	// StatusInvalid is -DER_INVAL: a request whose pool or handle is not a
	// UUID, or without handles.
	StatusInvalid int32 = -1003
	// StatusUnreachable is -DER_UNREACH: no engine is ready, or one could
	// not be reached.
	StatusUnreachable int32 = -1006
)

// Errors the service returns (the gRPC layer turns them into status
// codes).
var (
	// ErrWrongSystem: the request names another system than this server's.
	ErrWrongSystem = errors.New("wrong system name")
)

// Caller calls an engine's dRPC method; *engine.Caller is one.
type Caller interface {
	Call(ctx context.Context, t engine.Target, m drpc.Method, req, reply proto.Message) error
}

// Options configure a Service.
type Options struct {
	// System is the system name (the configuration's name).
	System string
	// NetHint is the client network hint of every GetAttachInfo reply.
	NetHint *mgmtv1.ClientNetHint
	// Engines lists the engines (Registry.Statuses); only ready ones count.
	Engines func() []engine.Status
	// Caller calls the engines for PoolEvict.
	Caller Caller
	// CallTimeout bounds the calls to the engines of one PoolEvict; 0 means
	// 5 seconds.
	CallTimeout time.Duration
	// Evictions records the evictions; nil means NewEvictions(0).
	Evictions *Evictions
	// Build is the server's version, for GetAttachInfoResp.build_info.
	Build string
	// Logger receives the service's records; nil discards them.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Service implements the management service.
type Service struct {
	opts  Options
	log   *slog.Logger
	build *mgmtv1.BuildInfo

	mu      sync.Mutex
	lastKey string // the ranks, URIs and contexts of the last reply
	version uint64 // data_version: grows when lastKey changes
}

// New returns the service.
func New(opts Options) *Service {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Evictions == nil {
		opts.Evictions = NewEvictions(0)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Engines == nil {
		opts.Engines = func() []engine.Status { return nil }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, log: log, build: buildInfo(opts.Build)}
}

// Evictions returns the record of evictions.
func (s *Service) Evictions() *Evictions { return s.opts.Evictions }

// System returns the system name.
func (s *Service) System() string { return s.opts.System }

// checkSystem refuses a request for another system ("" is this one).
func (s *Service) checkSystem(sys string) error {
	if sys != "" && sys != s.opts.System {
		return fmt.Errorf("%w: the request is for system %q, this server is %q: set name: %s in the agent's configuration",
			ErrWrongSystem, sys, s.opts.System, s.opts.System)
	}
	return nil
}

// GetAttachInfo returns the ready engines' ranks and URIs, the MS ranks
// (every ready rank: this server is the system's only management service
// replica, so all_ranks changes nothing), the client network hint and the
// system name.
func (s *Service) GetAttachInfo(_ context.Context, req *mgmtv1.GetAttachInfoReq) (*mgmtv1.GetAttachInfoResp, error) {
	if err := s.checkSystem(req.GetSys()); err != nil {
		return nil, err
	}
	resp := &mgmtv1.GetAttachInfoResp{
		Sys:           s.opts.System,
		ClientNetHint: s.opts.NetHint,
		BuildInfo:     s.build,
	}
	var key strings.Builder
	for _, st := range s.opts.Engines() {
		if st.State != engine.Ready || st.URI == "" {
			continue
		}
		resp.RankUris = append(resp.RankUris, &mgmtv1.GetAttachInfoResp_RankUri{Rank: st.Rank, Uri: st.URI, NumCtxs: st.Nctxs})
		resp.MsRanks = append(resp.MsRanks, st.Rank)
		fmt.Fprintf(&key, "%d %s %d\n", st.Rank, st.URI, st.Nctxs)
	}
	s.mu.Lock()
	if s.version == 0 || key.String() != s.lastKey {
		s.version++
		s.lastKey = key.String()
	}
	resp.DataVersion = s.version
	s.mu.Unlock()
	return resp, nil
}

// Peer describes the caller of PoolEvict, for the record.
type Peer struct {
	// Addr is its network address; Name the common name of its
	// certificate (empty without TLS).
	Addr, Name string
}

// PoolEvict evicts the named handles of a pool on every ready engine (dRPC
// method 230), all at once, within the CallTimeout, and records what each
// answered. The reply's count is the sum of the engines' counts; its status
// is 0 if every engine evicted, the first engine's error status otherwise,
// -DER_UNREACH if an engine could not be reached or none is ready. A
// request whose pool or handles are not UUIDs, or without handles (this
// server evicts named handles only: it is what an agent asks), is refused
// with -DER_INVAL and reaches no engine.
func (s *Service) PoolEvict(ctx context.Context, peer Peer, req *mgmtv1.PoolEvictReq) (*mgmtv1.PoolEvictResp, error) {
	if err := s.checkSystem(req.GetSys()); err != nil {
		return nil, err
	}
	if err := checkEvict(req); err != nil {
		s.log.Warn("pool evict refused", "pool", req.GetId(), "machine", req.GetMachine(), "peer", peer.Addr, "peer_name", peer.Name, "err", err)
		return &mgmtv1.PoolEvictResp{Status: StatusInvalid}, nil
	}
	var ready []engine.Status
	for _, st := range s.opts.Engines() {
		if st.State == engine.Ready {
			ready = append(ready, st)
		}
	}
	ev := Eviction{
		Received: s.opts.Now(),
		Pool:     req.GetId(),
		Handles:  req.GetHandles(),
		Machine:  req.GetMachine(),
		Peer:     peer.Addr,
		PeerName: peer.Name,
		Engines:  make([]EngineEviction, len(ready)),
	}
	// The engines get the request without the caller's sys and pool
	// service ranks, which are the server's business.
	fwd := &mgmtv1.PoolEvictReq{Id: req.GetId(), Handles: req.GetHandles(), Machine: req.GetMachine()}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CallTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, st := range ready {
		wg.Go(func() {
			var resp mgmtv1.PoolEvictResp
			err := s.opts.Caller.Call(cctx, engine.Target{Name: fmt.Sprintf("engine %d", st.Index), Socket: st.Socket},
				mgmtv1drpc.MgmtServicePoolEvictMethod, fwd, &resp)
			ee := EngineEviction{Index: st.Index, Rank: st.Rank, Count: resp.GetCount(), Status: resp.GetStatus()}
			if err != nil {
				ee.Err, ee.Status, ee.Count = err.Error(), StatusUnreachable, 0
			}
			ev.Engines[i] = ee
		})
	}
	wg.Wait()

	out := &mgmtv1.PoolEvictResp{}
	if len(ready) == 0 {
		out.Status = StatusUnreachable
	}
	for _, ee := range ev.Engines {
		out.Count += ee.Count
		if out.Status == 0 && ee.Status != 0 {
			out.Status = ee.Status
		}
	}
	ev.Count = out.Count
	s.opts.Evictions.add(ev)
	attrs := []any{"pool", ev.Pool, "handles", strings.Join(ev.Handles, ","), "machine", ev.Machine, "peer", ev.Peer,
		"peer_name", ev.PeerName, "engines", len(ready), "count", out.Count, "status", out.Status}
	switch {
	case len(ready) == 0:
		s.log.Warn("pool evict: no engine is ready", attrs...)
	case out.Status != 0:
		for _, ee := range ev.Engines {
			if ee.Status != 0 {
				attrs = append(attrs, "engine_"+strconv.Itoa(int(ee.Index)), fmt.Sprintf("status %d %s", ee.Status, ee.Err))
			}
		}
		s.log.Warn("pool evict failed on some engines", attrs...)
	default:
		s.log.Info("pool handles evicted", attrs...)
	}
	return out, nil
}

// checkEvict checks that a PoolEvict request names a pool and handles by
// UUID.
func checkEvict(req *mgmtv1.PoolEvictReq) error {
	if !mgmtv1.IsUUID(req.GetId()) {
		return fmt.Errorf("id %q is not a pool UUID", req.GetId())
	}
	if len(req.GetHandles()) == 0 {
		return errors.New("no handles named: this server evicts named handles only")
	}
	for _, h := range req.GetHandles() {
		if !mgmtv1.IsUUID(h) {
			return fmt.Errorf("handle %q is not a UUID", h)
		}
	}
	return nil
}

// buildInfo parses a module version ("v1.2.3-rc.1") into BuildInfo: the
// numbers it has, and the whole version as the tag.
func buildInfo(v string) *mgmtv1.BuildInfo {
	b := &mgmtv1.BuildInfo{Tag: v}
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	nums := []*uint32{&b.Major, &b.Minor, &b.Patch}
	for i, p := range parts {
		if i >= len(nums) {
			break
		}
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			break
		}
		*nums[i] = uint32(n)
	}
	return b
}
