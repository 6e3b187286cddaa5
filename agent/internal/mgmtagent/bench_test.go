package mgmtagent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cc532012/drpc/agent/internal/mgmtagent"
	"github.com/cc532012/drpc/agent/internal/secagent"
	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// BenchmarkWarmGetAttachInfo measures method 206 with the attach info
// cached (two ranks, as with two engines), end to end over a real socket,
// next to method 101 with its credential cached (Ed25519), both served by
// one server in this process, as the agent serves them, on one connection.
// The aim: a warm 206 costs at most 1.3x a cached 101. warm-vs-cached makes
// the two calls in turn and times each, so that the ratio does not drift
// with the machine's load.
func BenchmarkWarmGetAttachInfo(b *testing.B) {
	key, err := auth.GenerateKey(auth.KeyEd25519, 0)
	require.NoError(b, err)
	sec, err := secagent.New(secagent.Options{Signer: auth.NewSigner(key), Origin: "agent", CacheTTL: time.Hour})
	require.NoError(b, err)
	up := newUpstream()
	mgmt := mgmtagent.New(mgmtagent.Options{System: "daos_server", Upstream: up, TTL: time.Hour})
	socket := daemontest.SocketDir(b) + "/daos_agent.sock"
	daemontest.Serve(b, socket, []drpc.Module{sec.Module(), mgmt.Module()})
	conn := daemontest.Connect(b, socket)
	ctx := context.Background()
	credClient := authv1drpc.NewSecurityAgentServiceClient(conn)
	mgmtClient := mgmtv1drpc.NewMgmtServiceClient(conn)

	// Warm both caches.
	cred, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{})
	require.NoError(b, err)
	info, err := mgmtClient.GetAttachInfo(ctx, &mgmtv1.GetAttachInfoReq{AllRanks: true})
	require.NoError(b, err)
	require.Len(b, info.GetRankUris(), 2)
	b.Logf("reply sizes: 206 %d B, 101 %d B", proto.Size(info), proto.Size(cred))

	b.Run("cached-101", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if resp, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{}); err != nil || resp.GetStatus() != 0 {
				b.Fatal(err, resp.GetStatus())
			}
		}
	})
	b.Run("warm-206", func(b *testing.B) {
		b.ReportAllocs()
		req := &mgmtv1.GetAttachInfoReq{AllRanks: true}
		for b.Loop() {
			if resp, err := mgmtClient.GetAttachInfo(ctx, req); err != nil || resp.GetStatus() != 0 {
				b.Fatal(err, resp.GetStatus())
			}
		}
		if n := up.infos.Load(); n != 1 {
			b.Fatalf("%d fetches from the server: the cache was not warm", n)
		}
	})
	b.Run("warm-vs-cached", func(b *testing.B) {
		var credTime, infoTime time.Duration
		req := &mgmtv1.GetAttachInfoReq{AllRanks: true}
		for b.Loop() {
			t0 := time.Now()
			if _, err := credClient.RequestCredentials(ctx, &authv1.GetCredReq{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := mgmtClient.GetAttachInfo(ctx, req); err != nil {
				b.Fatal(err)
			}
			credTime += t1.Sub(t0)
			infoTime += time.Since(t1)
		}
		b.ReportMetric(float64(credTime.Nanoseconds())/float64(b.N), "101-ns/op")
		b.ReportMetric(float64(infoTime.Nanoseconds())/float64(b.N), "206-ns/op")
		b.ReportMetric(float64(infoTime)/float64(credTime), "206/101")
	})
}
