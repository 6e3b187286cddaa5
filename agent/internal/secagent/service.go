package secagent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// The GetCredResp statuses of a failed request: negative DAOS error numbers,
// which libdaos reports to the application. They are those DAOS's agent
// answers in the same case, so that DAOS clients behave the same; the log
// line says which case it was.
const (
	// StatusNoName is -DER_MISC, as DAOS's agent answers it: the caller's
	// uid or gid has no name.
	StatusNoName int32 = -1025
	// StatusFailure is -DER_MISC: the credential could not be made (the
	// peer's groups could not be read, signing failed, ...).
	StatusFailure int32 = -1025
)

// Defaults of Options.
const (
	// DefaultCacheTTL is how long a credential is reused for the same
	// identity.
	DefaultCacheTTL = time.Minute
	// DefaultCacheSize is how many identities the cache holds.
	DefaultCacheSize = 1024
)

// Options configure a Service.
type Options struct {
	// Signer signs the credentials: auth.NewSigner(key), or
	// auth.NewSigner(nil) for insecure (digest-only) credentials. Required.
	Signer *auth.Signer
	// Origin names the agent in every credential (DAOS agents use "agent").
	// Required; see auth.ValidateOrigin.
	Origin string
	// Host is the machine name written in tokens; empty means
	// auth.ShortHostname().
	Host string
	// CacheTTL is how long a credential is reused for the same (uid, gid,
	// groups); 0 turns the cache off. Negative is refused.
	CacheTTL time.Duration
	// MaxAge is the credential_max_age of the servers that verify this
	// agent's credentials (0: they check no age, as DAOS's). When set, a
	// cached credential is handed out only while its stamp is less than
	// MaxAge/2 old, so that every credential handed out has at least half
	// of MaxAge left for its client to present it. Negative is refused.
	MaxAge time.Duration
	// CacheSize bounds the number of cached identities; 0 means
	// DefaultCacheSize.
	CacheSize int
	// UIDMap and GIDMap name the uids and gids that the user database does
	// not know.
	UIDMap, GIDMap map[uint32]string
	// Logger receives a record for each failed request (warn) and each
	// credential made (debug); nil discards them.
	Logger *slog.Logger
}

// Service implements the security agent module. It is safe for concurrent
// use. Make one with New and register Module() on a drpc server.
type Service struct {
	authv1drpc.UnimplementedSecurityAgentServiceServer

	origin   string
	cacheTTL time.Duration
	maxAge   time.Duration
	size     int
	resolver *resolver
	log      *slog.Logger
	now      func() time.Time

	state atomic.Pointer[state]
}

// state is what Reload replaces: the signer, the host name and the cache of
// credentials they made.
type state struct {
	signer *auth.Signer
	host   string
	cache  *cache // nil when caching is off
}

// New returns a Service with the given options.
func New(opts Options) (*Service, error) {
	if opts.Signer == nil {
		return nil, errors.New("security agent: no signer: use auth.NewSigner(key), or auth.NewSigner(nil) for insecure credentials")
	}
	if err := auth.ValidateOrigin(opts.Origin); err != nil {
		return nil, fmt.Errorf("security agent: origin: %w", err)
	}
	if opts.CacheTTL < 0 {
		return nil, fmt.Errorf("security agent: cache time to live %v is negative: use 0 to turn the cache off", opts.CacheTTL)
	}
	if opts.MaxAge < 0 {
		return nil, fmt.Errorf("security agent: credential max age %v is negative: use 0 if the servers check no age", opts.MaxAge)
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("security agent: cache size %d is negative", opts.CacheSize)
	}
	s := &Service{
		origin:   opts.Origin,
		cacheTTL: opts.CacheTTL,
		maxAge:   opts.MaxAge,
		size:     opts.CacheSize,
		resolver: newResolver(opts.UIDMap, opts.GIDMap),
		log:      opts.Logger,
		now:      time.Now,
	}
	if s.size == 0 {
		s.size = DefaultCacheSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	st, err := s.newState(opts.Signer, opts.Host)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	return s, nil
}

func (s *Service) newState(signer *auth.Signer, host string) (*state, error) {
	if signer.KeyType() == "" {
		return nil, fmt.Errorf("security agent: %w: use an RSA (2048 bits or more) or Ed25519 key", auth.ErrUnsupportedKey)
	}
	if host == "" {
		h, err := auth.ShortHostname()
		if err != nil {
			return nil, fmt.Errorf("security agent: host name: %w", err)
		}
		host = h
	}
	st := &state{signer: signer, host: host}
	if s.cacheTTL > 0 {
		st.cache = newCache(s.size)
	}
	return st, nil
}

// Module returns the drpc.Module (ID 1) that serves s.
func (s *Service) Module() drpc.Module { return authv1drpc.NewSecurityAgentServiceModule(s) }

// Reload makes s sign with signer from now on and empties the credential
// cache (host names the machine; empty means auth.ShortHostname()). Calls in
// progress finish with the old signer. On error s keeps its signer and cache.
func (s *Service) Reload(signer *auth.Signer, host string) error {
	if signer == nil {
		return errors.New("security agent: reload: no signer")
	}
	st, err := s.newState(signer, host)
	if err != nil {
		return err
	}
	s.state.Store(st)
	return nil
}

// KeyType reports the type of the current signing key (auth.KeyNone when
// insecure).
func (s *Service) KeyType() auth.KeyType { return s.state.Load().signer.KeyType() }

// CacheLen returns the number of cached credentials.
func (s *Service) CacheLen() int {
	if c := s.state.Load().cache; c != nil {
		return c.len()
	}
	return 0
}

// maxStackGroups is the number of groups whose cache key is built without
// an allocation.
const maxStackGroups = 30

// RequestCredentials answers method 101 with a credential for the session's
// peer. The request is ignored: the identity comes from the socket.
func (s *Service) RequestCredentials(_ context.Context, session *drpc.Session, _ *authv1.GetCredReq) (*authv1.GetCredResp, error) {
	peer := session.PeerCredentials()
	groups, err := session.PeerGroups()
	if err != nil {
		s.log.Warn("request credentials: cannot read the peer's groups", "pid", peer.PID, "uid", peer.UID, "err", err)
		return &authv1.GetCredResp{Status: StatusFailure}, nil
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)

	var buf [8 + 4*maxStackGroups]byte
	key := cacheKey(buf[:0], peer.UID, peer.GID, groups)
	st := s.state.Load()
	now := s.now()
	if st.cache != nil {
		if cred, ok := st.cache.get(key, now); ok {
			return &authv1.GetCredResp{Cred: cred}, nil
		}
	}
	cred, status, err := s.makeCredential(st, peer, groups, now)
	if err != nil {
		s.log.Warn("request credentials: refused", "pid", peer.PID, "uid", peer.UID, "gid", peer.GID, "status", status, "err", err)
		return &authv1.GetCredResp{Status: status}, nil
	}
	if st.cache != nil {
		st.cache.put(key, cred, s.reuseUntil(now))
	}
	s.log.Debug("request credentials: credential made", "pid", peer.PID, "uid", peer.UID, "gid", peer.GID, "groups", len(groups))
	return &authv1.GetCredResp{Cred: cred}, nil
}

// reuseUntil returns until when a credential signed at now may be handed
// out again: CacheTTL later, and no later than half of MaxAge after its
// stamp (whole seconds, as the servers read it).
func (s *Service) reuseUntil(now time.Time) time.Time {
	until := now.Add(s.cacheTTL)
	if s.maxAge > 0 {
		if limit := time.Unix(now.Unix(), 0).Add(s.maxAge / 2); limit.Before(until) {
			until = limit
		}
	}
	return until
}

// cacheKey appends the identity (uid, gid, sorted groups) to b.
func cacheKey(b []byte, uid, gid uint32, groups []uint32) []byte {
	b = binary.LittleEndian.AppendUint32(b, uid)
	b = binary.LittleEndian.AppendUint32(b, gid)
	for _, g := range groups {
		b = binary.LittleEndian.AppendUint32(b, g)
	}
	return b
}

func (s *Service) makeCredential(st *state, peer drpc.PeerCredentials, groups []uint32, now time.Time) (*authv1.Credential, int32, error) {
	userName, err := s.resolver.userName(peer.UID)
	if err != nil {
		return nil, StatusNoName, err
	}
	groupName, err := s.resolver.groupName(peer.GID)
	if err != nil {
		return nil, StatusNoName, err
	}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		n, err := s.resolver.groupName(g)
		if err != nil {
			return nil, StatusNoName, fmt.Errorf("supplementary group: %w", err)
		}
		names = append(names, n)
	}
	token, err := auth.NewSysToken(auth.Identity{User: userName, Group: groupName, Groups: names, Host: st.host}, now)
	if err != nil {
		return nil, StatusFailure, err
	}
	cred, err := st.signer.Sign(token, s.origin)
	if err != nil {
		return nil, StatusFailure, err
	}
	return cred, 0, nil
}
