package mgmtagent_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// clientEnv makes the test binary a client process (see clientMain): the
// variable holds "SOCKET POOL HANDLE".
const clientEnv = "MGMTAGENT_TEST_CLIENT"

func TestMain(m *testing.M) {
	if args := os.Getenv(clientEnv); args != "" {
		os.Exit(clientMain(args))
	}
	os.Exit(m.Run())
}

// clientMain is a client process of the agent, as libdaos would be: it
// connects a pool (235) over its own connection, prints "connected", then
// reads commands on stdin: "disconnect" (236), "exit" (233, then exits 0);
// it blocks until killed otherwise.
func clientMain(args string) int {
	var socket, pool, handle string
	if _, err := fmt.Sscan(args, &socket, &pool, &handle); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 2
	}
	ctx := context.Background()
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	client := mgmtv1drpc.NewMgmtServiceClient(conn)
	req := &mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: handle, Jobid: "job1"}
	resp, err := client.NotifyPoolConnect(ctx, req)
	if err != nil || resp.GetStatus() != 0 {
		fmt.Fprintln(os.Stderr, "client: connect:", err, resp.GetStatus())
		return 1
	}
	fmt.Println("connected")
	for {
		var cmd string
		if _, err := fmt.Scanln(&cmd); err != nil {
			select {} // stdin closed: wait to be killed
		}
		switch cmd {
		case "disconnect":
			resp, err = client.NotifyPoolDisconnect(ctx, req)
		case "exit":
			resp, err = client.NotifyExit(ctx, nil)
		}
		if err != nil || resp.GetStatus() != 0 {
			fmt.Fprintln(os.Stderr, "client:", cmd, err, resp.GetStatus())
			return 1
		}
		fmt.Println(cmd + " done")
		if cmd == "exit" {
			return 0
		}
	}
}
