package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/drpc"
	"github.com/cc532012/drpc/drpc/auth"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// clientEnv, when set to a socket path, makes a re-executed test binary a
// client: it asks the agent there for a credential and prints the result as
// JSON (see clientResult).
const clientEnv = "DRPC_AGENT_TEST_CLIENT"

func TestMain(m *testing.M) {
	if path := os.Getenv(clientEnv); path != "" {
		os.Exit(clientMain(path))
	}
	os.Exit(m.Run())
}

// clientResult is what the client helper prints.
type clientResult struct {
	Status int32    `json:"status"`
	User   string   `json:"user"`
	Group  string   `json:"group"`
	Groups []string `json:"groups"`
	Err    string   `json:"err,omitempty"`
}

func clientMain(path string) int {
	res := clientResult{}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(res) }()
	conn := drpc.NewClientConnection(path)
	if err := conn.Connect(context.Background()); err != nil {
		res.Err = err.Error()
		return 1
	}
	defer conn.Close()
	resp, err := authv1drpc.NewSecurityAgentServiceClient(conn).RequestCredentials(context.Background(), &authv1.GetCredReq{})
	if err != nil {
		res.Err = err.Error()
		return 1
	}
	res.Status = resp.GetStatus()
	if resp.GetCred() != nil {
		sys, err := auth.DecodeSys(resp.GetCred().GetToken())
		if err != nil {
			res.Err = fmt.Sprintf("decode: %v", err)
			return 1
		}
		res.User, res.Group, res.Groups = sys.GetUser(), sys.GetGroup(), sys.GetGroups()
	}
	return 0
}
