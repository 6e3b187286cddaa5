package unixsock_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/unixsock"
)

func self() unixsock.Credentials {
	return unixsock.Credentials{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
}

func TestPeerCredentialsSocketpair(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		require.NoError(t, err)
		_ = f.Close()
		defer c.Close()

		cred, err := unixsock.PeerCredentials(c.(*net.UnixConn))
		require.NoError(t, err)
		assert.Equal(t, self(), cred)
	}
}

func TestPeerCredentialsBothEnds(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	l := listen(t, path, 0o600)
	accepted := make(chan *net.UnixConn, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	defer client.Close()
	server, ok := <-accepted
	require.True(t, ok, "accept failed")
	defer server.Close()

	for name, c := range map[string]*net.UnixConn{"server side": server, "client side": client} {
		cred, err := unixsock.PeerCredentials(c)
		require.NoError(t, err, name)
		assert.Equal(t, self(), cred, name)
	}
}

func TestPeerCredentialsClosedConn(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "socketpair")
	c, err := net.FileConn(f)
	require.NoError(t, err)
	_ = f.Close()
	require.NoError(t, c.Close())

	_, err = unixsock.PeerCredentials(c.(*net.UnixConn))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read peer credentials")
}

func TestPeerCredentialsNotASocket(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	_, err = unixsock.PeerCredentials(r)
	require.Error(t, err)
	assert.ErrorIs(t, err, unix.ENOTSOCK)
	assert.Contains(t, err.Error(), "SO_PEERCRED")
}

func TestPeerGroups(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	f := os.NewFile(uintptr(fds[0]), "a")
	defer f.Close()
	defer unix.Close(fds[1])
	c, err := net.FileConn(f)
	require.NoError(t, err)
	defer c.Close()
	got, err := unixsock.PeerGroups(c.(*net.UnixConn))
	require.NoError(t, err)
	want, err := unix.Getgroups()
	require.NoError(t, err)
	wantU := make([]uint32, 0, len(want))
	for _, g := range want {
		wantU = append(wantU, uint32(g))
	}
	assert.ElementsMatch(t, wantU, got, "a socket pair's peer is this process")
}
