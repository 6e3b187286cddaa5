// Package agenttest holds the helpers that the agent's tests (in-process
// and of the binary) share: a client's credential request and a key the
// agent refuses. Only tests import it.
package agenttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	authv1drpc "github.com/cc532012/drpc/api/auth/v1/authv1drpc"
	"github.com/cc532012/drpc/drpc"
	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
)

// RequestCredentials asks the agent on socket for a credential (module 1,
// method 101) over a connection of its own, closed afterwards, and returns
// the reply; a transport error fails t.
func RequestCredentials(t testing.TB, socket string) *authv1.GetCredResp {
	t.Helper()
	conn := drpc.NewClientConnection(socket)
	require.NoError(t, conn.Connect(context.Background()), "connect to the agent on %s", socket)
	defer conn.Close()
	resp, err := authv1drpc.NewSecurityAgentServiceClient(conn).RequestCredentials(context.Background(), &authv1.GetCredReq{})
	require.NoError(t, err)
	return resp
}

// WriteECKey writes a new ECDSA P-256 private key to path (PKCS#8 PEM, mode
// 0600): a well-formed key of a type the agent does not sign with.
func WriteECKey(t testing.TB, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
}
