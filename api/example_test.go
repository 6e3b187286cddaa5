package api_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/catalog"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// engineMgmt is an engine's side of the mgmt module: it serves ping rank
// and leaves every other mgmt method unimplemented.
type engineMgmt struct {
	mgmtv1drpc.UnimplementedMgmtServiceServer
	rank uint32
}

func (e engineMgmt) PingRank(_ context.Context, _ *drpc.Session, req *mgmtv1.PingRankReq) (*mgmtv1.DaosResp, error) {
	if req.GetRank() != e.rank {
		return &mgmtv1.DaosResp{Status: -1003}, nil // -DER_NONEXIST
	}
	return &mgmtv1.DaosResp{}, nil
}

// Schema-first modules: the module, its IDs and its client are generated
// from proto/drpc/mgmt/v1/mgmt.proto; the engine only writes PingRank.
func Example_schemaFirst() {
	dir, _ := os.MkdirTemp("", "drpc-example")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "engine.sock")
	ctx := context.Background()

	srv, _ := drpc.NewDomainSocketServer(sock)
	if err := srv.RegisterRPCModule(mgmtv1drpc.NewMgmtServiceModule(engineMgmt{rank: 3})); err != nil {
		fmt.Println(err)
		return
	}
	_ = srv.Start(ctx)
	defer srv.Shutdown(ctx)

	conn := drpc.NewClientConnection(sock)
	_ = conn.Connect(ctx)
	defer conn.Close()
	mgmt := mgmtv1drpc.NewMgmtServiceClient(conn)

	resp, err := mgmt.PingRank(ctx, &mgmtv1.PingRankReq{Rank: 3})
	fmt.Println("ping rank 3:", resp.GetStatus(), err)

	// Not implemented by this engine: the status comes back as a Failure.
	_, err = mgmt.SetRank(ctx, &mgmtv1.SetRankReq{Rank: 3})
	var f *drpc.Failure
	fmt.Println("set rank:", errors.As(err, &f) && f.Status() == drpc.StatusUnknownMethod)

	// Tools find the method and its message types by ID.
	entry, _ := catalog.Lookup(mgmtv1drpc.MgmtServiceModuleID, mgmtv1drpc.MgmtServicePingRankMethodID)
	fmt.Println(entry.FullMethodName(), entry.Request.Descriptor().FullName())
	// Output:
	// ping rank 3: 0 <nil>
	// set rank: true
	// drpc.mgmt.v1.MgmtService.PingRank drpc.mgmt.v1.PingRankReq
}
