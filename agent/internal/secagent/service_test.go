package secagent_test

import (
	"context"
	"crypto"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/agent/internal/secagent"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// serve starts a drpc server with svc (and extra modules) on a temp socket
// and returns a connected client.
func serve(t testing.TB, svc *secagent.Service, extra ...drpc.Module) *drpc.ClientConnection {
	t.Helper()
	path := filepath.Join(daemontest.SocketDir(t), "a.sock")
	daemontest.Serve(t, path, append([]drpc.Module{svc.Module()}, extra...), drpc.WithSocketMode(0o666))
	return daemontest.Connect(t, path)
}

func newService(t testing.TB, key crypto.Signer, opts secagent.Options) *secagent.Service {
	t.Helper()
	opts.Signer = auth.NewSigner(key)
	if opts.Origin == "" {
		opts.Origin = "agent"
	}
	svc, err := secagent.New(opts)
	require.NoError(t, err)
	return svc
}

func request(t testing.TB, conn *drpc.ClientConnection) *authv1.GetCredResp {
	t.Helper()
	resp, err := authv1drpc.NewSecurityAgentServiceClient(conn).RequestCredentials(context.Background(), &authv1.GetCredReq{})
	require.NoError(t, err)
	return resp
}

// expectedIdentity is the identity of this process as os/user and the
// kernel (getgroups, which SO_PEERGROUPS reports) see it.
func expectedIdentity(t *testing.T) (userName, groupName string, groups []string) {
	t.Helper()
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	require.NoError(t, err)
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	require.NoError(t, err)
	gids, err := os.Getgroups()
	require.NoError(t, err)
	seen := map[int]bool{}
	sortInts(gids)
	for _, gid := range gids {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		gg, err := user.LookupGroupId(strconv.Itoa(gid))
		require.NoError(t, err)
		groups = append(groups, gg.Name+"@")
	}
	return u.Username + "@", g.Name + "@", groups
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func TestRequestCredentials(t *testing.T) {
	for _, kt := range []auth.KeyType{auth.KeyEd25519, auth.KeyRSA} {
		t.Run(string(kt), func(t *testing.T) {
			key, err := auth.GenerateKey(kt, 2048)
			require.NoError(t, err)
			svc := newService(t, key, secagent.Options{Origin: "node-agent", CacheTTL: time.Minute})
			conn := serve(t, svc)

			resp := request(t, conn)
			require.EqualValues(t, 0, resp.GetStatus())
			sys, err := auth.Verifier{}.Verify(resp.GetCred(), key.Public())
			require.NoError(t, err, "the signature verifies with the public key")
			assert.Equal(t, "node-agent", resp.GetCred().GetOrigin())

			wantUser, wantGroup, wantGroups := expectedIdentity(t)
			assert.Equal(t, wantUser, sys.GetUser())
			assert.Equal(t, wantGroup, sys.GetGroup())
			assert.Equal(t, wantGroups, sys.GetGroups())
			host, err := auth.ShortHostname()
			require.NoError(t, err)
			assert.Equal(t, host, sys.GetMachinename())
			assert.NotZero(t, sys.GetStamp())

			// A call body that claims another identity changes nothing.
			forged, err := proto.Marshal(&authv1.Sys{User: "root@", Group: "root@", Groups: []string{"wheel@"}})
			require.NoError(t, err)
			forged = append(forged, 0x08, 0x00) // and a field 1 = 0 (a "uid")
			raw, err := conn.SendMsg(context.Background(), &drpc.Call{Module: 1, Method: 101, Body: forged})
			require.NoError(t, err)
			require.Equal(t, drpc.StatusSuccess, raw.GetStatus())
			var got authv1.GetCredResp
			require.NoError(t, proto.Unmarshal(raw.GetBody(), &got))
			sys2, err := auth.Verifier{}.Verify(got.GetCred(), key.Public())
			require.NoError(t, err)
			assert.True(t, proto.Equal(sys, sys2), "forged body: got %v, want %v", sys2, sys)
		})
	}
}

func TestCacheReuseAndDisable(t *testing.T) {
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)

	svc := newService(t, key, secagent.Options{CacheTTL: time.Minute})
	var now atomic.Int64
	now.Store(time.Unix(1_700_000_000, 0).UnixNano())
	secagent.SetNow(svc, func() time.Time { return time.Unix(0, now.Load()) })
	conn := serve(t, svc)
	first := request(t, conn).GetCred()
	second := request(t, conn).GetCred()
	assert.True(t, proto.Equal(first, second), "a cached credential is reused")
	assert.Equal(t, 1, svc.CacheLen())

	now.Add(int64(time.Minute))
	third := request(t, conn).GetCred()
	assert.False(t, proto.Equal(first, third), "after the time to live a new credential (new stamp) is made")

	off := newService(t, key, secagent.Options{CacheTTL: 0})
	conn = serve(t, off)
	request(t, conn)
	assert.Equal(t, 0, off.CacheLen(), "cache_ttl 0 turns the cache off")
}

// TestCacheRespectsMaxAge: with the servers' credential_max_age M given
// (5s) and a longer cache_ttl (1m), a cached credential is handed out only
// while its stamp is less than M/2 old, so every credential handed out
// still validates at such a server for at least M/2 (issue 19: the agent
// handed out a 6-second-old credential that the server refused).
func TestCacheRespectsMaxAge(t *testing.T) {
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	const maxAge = 5 * time.Second
	svc := newService(t, key, secagent.Options{CacheTTL: time.Minute, MaxAge: maxAge})
	var now atomic.Int64
	now.Store(time.Unix(1_700_000_000, 900_000_000).UnixNano()) // .9s: the stamp, in whole seconds, looks older
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	secagent.SetNow(svc, clock)
	conn := serve(t, svc)

	stamps := map[uint64]bool{}
	for range 200 { // 20 s in steps of 100 ms
		resp := request(t, conn)
		require.EqualValues(t, 0, resp.GetStatus())
		sys, err := auth.Verifier{MaxAge: maxAge, Now: clock}.Verify(resp.GetCred(), key.Public())
		require.NoError(t, err)
		stamps[sys.GetStamp()] = true
		age := clock().Sub(time.Unix(int64(sys.GetStamp()), 0))
		require.Less(t, age, maxAge/2, "handed out at most half of the max age old")
		// It still validates when presented up to M/2 later.
		_, err = auth.Verifier{MaxAge: maxAge, Now: func() time.Time { return clock().Add(maxAge/2 - time.Millisecond) }}.Verify(resp.GetCred(), key.Public())
		require.NoError(t, err)
		now.Add(int64(100 * time.Millisecond))
	}
	assert.GreaterOrEqual(t, len(stamps), 8, "signed anew every 2 to 3 s")
	assert.LessOrEqual(t, len(stamps), 12, "and reused in between")
}

func TestFallbackMaps(t *testing.T) {
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	gids, err := os.Getgroups()
	require.NoError(t, err)

	// The user database knows nobody; the maps name everyone.
	gidMap := map[uint32]string{gid: "mapped-group"}
	for _, g := range gids {
		if uint32(g) != gid {
			gidMap[uint32(g)] = "g" + strconv.Itoa(g)
		}
	}
	svc := newService(t, key, secagent.Options{UIDMap: map[uint32]string{uid: "mapped-user"}, GIDMap: gidMap})
	secagent.SetLookups(svc, nil, nil)
	resp := request(t, serve(t, svc))
	require.EqualValues(t, 0, resp.GetStatus())
	sys, err := auth.Verifier{}.Verify(resp.GetCred(), key.Public())
	require.NoError(t, err)
	assert.Equal(t, "mapped-user@", sys.GetUser())
	assert.Equal(t, "mapped-group@", sys.GetGroup())

	// No map entry: a clear failure status, no credential, no crash.
	var logs daemontest.SyncBuffer
	bare := newService(t, key, secagent.Options{Logger: textLogger(&logs)})
	secagent.SetLookups(bare, nil, nil)
	conn := serve(t, bare)
	resp = request(t, conn)
	assert.Equal(t, secagent.StatusNoName, resp.GetStatus())
	assert.EqualValues(t, -1025, resp.GetStatus(), "-DER_MISC, as DAOS's agent answers")
	assert.Nil(t, resp.GetCred())
	assert.Contains(t, logs.String(), "has no name in the user database nor in uid_map: add it to uid_map")

	// A user without a name but a group that has one: the gid map is
	// not needed, the uid map is.
	half := newService(t, key, secagent.Options{UIDMap: map[uint32]string{uid: "u"}})
	secagent.SetLookups(half, nil, func(string) (string, error) { return "grp", nil })
	resp = request(t, serve(t, half))
	require.EqualValues(t, 0, resp.GetStatus())
}

func TestReload(t *testing.T) {
	keyA, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	keyB, err := auth.GenerateKey(auth.KeyRSA, 2048)
	require.NoError(t, err)
	svc := newService(t, keyA, secagent.Options{CacheTTL: time.Hour})
	conn := serve(t, svc)
	_, err = auth.Verifier{}.Verify(request(t, conn).GetCred(), keyA.Public())
	require.NoError(t, err)
	assert.Equal(t, 1, svc.CacheLen())

	require.NoError(t, svc.Reload(auth.NewSigner(keyB), "otherhost"))
	assert.Equal(t, 0, svc.CacheLen(), "reload empties the cache")
	assert.Equal(t, auth.KeyRSA, svc.KeyType())
	sys, err := auth.Verifier{}.Verify(request(t, conn).GetCred(), keyB.Public())
	require.NoError(t, err, "after reload credentials are signed with the new key")
	assert.Equal(t, "otherhost", sys.GetMachinename())

	require.Error(t, svc.Reload(nil, ""))
	assert.Equal(t, auth.KeyRSA, svc.KeyType(), "a failed reload keeps the key")
}

func TestInsecure(t *testing.T) {
	svc := newService(t, nil, secagent.Options{})
	resp := request(t, serve(t, svc))
	_, err := auth.Verifier{}.Verify(resp.GetCred(), nil)
	require.ErrorIs(t, err, auth.ErrInsecureNotAllowed)
	_, err = auth.Verifier{AllowInsecure: true}.Verify(resp.GetCred(), nil)
	require.NoError(t, err)
}

func TestNewErrors(t *testing.T) {
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(t, err)
	tests := []struct {
		name string
		opts secagent.Options
	}{
		{"no signer", secagent.Options{Origin: "agent"}},
		{"bad origin", secagent.Options{Signer: auth.NewSigner(key), Origin: "../x"}},
		{"negative ttl", secagent.Options{Signer: auth.NewSigner(key), Origin: "agent", CacheTTL: -1}},
		{"negative size", secagent.Options{Signer: auth.NewSigner(key), Origin: "agent", CacheSize: -1}},
		{"negative max age", secagent.Options{Signer: auth.NewSigner(key), Origin: "agent", MaxAge: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secagent.New(tt.opts)
			require.Error(t, err)
		})
	}
}
