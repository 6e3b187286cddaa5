package drpc_test

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

func TestServerFromListener(t *testing.T) {
	// A server built from a listener someone else created (systemd, a test)
	// serves it and never removes or changes the socket file.
	path := socketPath(t)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o640))
	srv, err := drpc.NewDomainSocketServerFromListener(ln, drpc.WithSocketMode(0o666))
	require.NoError(t, err)
	assert.Equal(t, path, srv.SocketPath())
	require.NoError(t, srv.RegisterRPCModule(&echoModule{block: make(chan struct{})}))
	require.NoError(t, srv.Start(context.Background()))

	echo(t, connect(t, srv), "through an inherited listener")
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "the mode of an inherited socket is not ours to change")

	require.NoError(t, srv.Shutdown(context.Background()))
	_, err = os.Lstat(path)
	assert.NoError(t, err, "the inherited socket file stays")
}

func TestServerFromWrongListener(t *testing.T) {
	dir := t.TempDir()
	stream, err := net.Listen("unix", dir+"/stream.sock")
	require.NoError(t, err)
	defer stream.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	tests := []struct {
		name string
		ln   net.Listener
		want string
	}{
		{"stream socket", stream, "SOCK_STREAM"},
		{"TCP", tcp, "*net.TCPListener"},
		{"nil", nil, "<nil>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := drpc.NewDomainSocketServerFromListener(tc.ln)
			require.ErrorIs(t, err, drpc.ErrWrongSocketType)
			assert.Nil(t, srv)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
