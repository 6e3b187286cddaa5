package drpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

func TestStartRefusesPathInUse(t *testing.T) {
	first, _ := startServer(t)
	path := first.SocketPath()
	second := newServer(t, path, 0o600)
	err := second.Start(context.Background())
	require.ErrorIs(t, err, drpc.ErrSocketInUse)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "stop the other server or choose another path")

	serverWorks(t, first)
	require.NoError(t, second.Shutdown(context.Background()))
	serverWorks(t, first) // the refused server's Shutdown leaves the socket alone
}

func TestStartRemovesStaleSocket(t *testing.T) {
	tests := []struct {
		name  string
		stale func(t *testing.T, path string)
	}{
		{"closed listener", func(t *testing.T, path string) {
			ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
			require.NoError(t, err)
			ln.SetUnlinkOnClose(false)
			require.NoError(t, ln.Close())
		}},
		{"bound raw socket", func(t *testing.T, path string) {
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_SEQPACKET, 0)
			require.NoError(t, err)
			require.NoError(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}))
			require.NoError(t, syscall.Close(fd))
		}},
		{"server that crashed", func(t *testing.T, path string) {
			srv := newServer(t, path, 0o600)
			require.NoError(t, srv.Start(context.Background()))
			// A crash leaves the file behind; a copy of it stands in here,
			// as the server removes its own on shutdown.
			require.NoError(t, os.Rename(path, path+".old"))
			require.NoError(t, srv.Shutdown(context.Background()))
			require.NoError(t, os.Rename(path+".old", path))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := socketPath(t)
			tc.stale(t, path)
			fi, err := os.Lstat(path)
			require.NoError(t, err)
			require.Equal(t, os.ModeSocket, fi.Mode().Type(), "a stale socket file is in place")

			srv := newServer(t, path, 0o600)
			require.NoError(t, srv.Start(context.Background()))
			serverWorks(t, srv)
		})
	}
}

func TestStartRefusesNonSocket(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"regular file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("precious data"), 0o644))
		}},
		{"directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), []byte("precious data"), 0o644))
		}},
		{"symlink", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path+".target", []byte("precious data"), 0o644))
			require.NoError(t, os.Symlink(path+".target", path))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := socketPath(t)
			tc.make(t, path)
			before, err := os.Lstat(path)
			require.NoError(t, err)

			srv := newServer(t, path, 0o600)
			err = srv.Start(context.Background())
			require.ErrorIs(t, err, drpc.ErrNotSocket)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), "remove it or choose another path")

			after, err := os.Lstat(path)
			require.NoError(t, err)
			assert.Equal(t, before.Mode(), after.Mode())
			assert.Equal(t, before.ModTime(), after.ModTime())
			assert.True(t, os.SameFile(before, after), "the file must be left in place")
			target := path
			if tc.name == "directory" {
				target = filepath.Join(path, "inside")
			}
			b, err := os.ReadFile(target)
			require.NoError(t, err)
			assert.Equal(t, "precious data", string(b))
			require.NoError(t, srv.Shutdown(context.Background()))
			_, err = os.Lstat(path)
			assert.NoError(t, err, "the refused server's Shutdown leaves the file alone")
		})
	}
}

func TestStartBadPath(t *testing.T) {
	dir := filepath.Dir(socketPath(t))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name    string
		path    string
		wantErr error
		wantMsg string
	}{
		{"missing directory", filepath.Join(dir, "missing", "s.sock"), drpc.ErrBadSocketPath, "create it before starting the server"},
		{"parent is a file", filepath.Join(file, "s.sock"), drpc.ErrBadSocketPath, "is not a directory"},
		{"path of 108 bytes", dir + "/" + strings.Repeat("x", 108-len(dir)-1), drpc.ErrBadSocketPath, "108 bytes, the kernel allows 107"},
		{"path of 200 bytes", dir + "/" + strings.Repeat("x", 200-len(dir)-1), drpc.ErrBadSocketPath, "choose a shorter path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The path is checked when the server is built.
			srv, err := drpc.NewDomainSocketServer(tc.path)
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, srv)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
	t.Run("directory removed between build and start", func(t *testing.T) {
		sub := filepath.Join(dir, "gone")
		require.NoError(t, os.Mkdir(sub, 0o700))
		srv := newServer(t, filepath.Join(sub, "s.sock"), 0o600)
		require.NoError(t, os.Remove(sub))
		err := srv.Start(context.Background())
		require.ErrorIs(t, err, drpc.ErrBadSocketPath)
	})
	t.Run("path of 107 bytes", func(t *testing.T) {
		path := dir + "/" + strings.Repeat("x", drpc.MaxSocketPathLen-len(dir)-1)
		require.Len(t, path, 107)
		srv := newServer(t, path, 0o600)
		require.NoError(t, srv.Start(context.Background()))
		serverWorks(t, srv)
	})
	t.Run("empty path", func(t *testing.T) {
		_, err := drpc.NewDomainSocketServer("")
		assert.ErrorIs(t, err, drpc.ErrBadSocketPath)
	})
}

func TestSocketModeIgnoresUmask(t *testing.T) {
	for _, mask := range []int{0, 0o022, 0o077} {
		for _, mode := range []os.FileMode{0o600, 0o660, 0o666} {
			t.Run(fmt.Sprintf("mode %#o umask %#o", mode, mask), func(t *testing.T) {
				old := syscall.Umask(mask)
				defer syscall.Umask(old)

				srv := newServer(t, socketPath(t), mode)
				require.NoError(t, srv.Start(context.Background()))
				fi, err := os.Lstat(srv.SocketPath())
				require.NoError(t, err)
				assert.Equal(t, os.ModeSocket, fi.Mode().Type())
				assert.Equal(t, mode, fi.Mode().Perm())
				assert.Equal(t, mask, syscall.Umask(mask), "Start must leave the umask as it was")
			})
		}
	}
}

func TestPeerCredentials(t *testing.T) {
	srv, _ := startServer(t)
	c := connect(t, srv)
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodCreds)})
	require.NoError(t, err)
	require.Equal(t, drpc.StatusSuccess, resp.Status)
	assert.Equal(t, fmt.Sprintf("%d %d %d", os.Getpid(), os.Getuid(), os.Getgid()), string(resp.Body))
}

// The test binary doubles as a client run as another user: with
// helperSocketEnv set, TestHelperProcess connects to that socket, asks for
// its credentials, and prints the outcome for the parent to read.
const helperSocketEnv = "DRPC_TEST_HELPER_SOCKET"

func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperSocketEnv)
	if path == "" {
		return // not the helper
	}
	c := drpc.NewClientConnection(path)
	err := c.Connect(context.Background())
	switch {
	case errors.Is(err, syscall.EACCES):
		fmt.Println("RESULT EACCES")
		return
	case err != nil:
		fmt.Println("RESULT ERROR", err)
		return
	}
	defer c.Close()
	resp, err := c.SendMsg(context.Background(), &drpc.Call{Method: int32(methodCreds)})
	if err != nil {
		fmt.Println("RESULT ERROR", err)
		return
	}
	fmt.Printf("RESULT OK %s\n", resp.Body)
}

// runAs runs TestHelperProcess against path as uid and gid and returns what
// it reports and its pid.
func runAs(t *testing.T, exe, path string, uid, gid uint32) (result string, pid int) {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Dir = filepath.Dir(exe)
	// The race detector would otherwise wait a second at exit.
	cmd.Env = append(os.Environ(), helperSocketEnv+"="+path, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "helper process: %s", out.String())
	for _, line := range strings.Split(out.String(), "\n") {
		if r, ok := strings.CutPrefix(line, "RESULT "); ok {
			return r, cmd.Process.Pid
		}
	}
	require.FailNow(t, "the helper process reported nothing", out.String())
	return "", 0
}

func TestSocketModeAgainstOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user (uid 65534)")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "drpc")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) // traversable by the other user

	// The other user must be able to run the test binary: copy it where it
	// can.
	self, err := os.Executable()
	require.NoError(t, err)
	exe := filepath.Join(dir, "drpc.test")
	copyFile(t, self, exe, 0o755)

	tests := []struct {
		mode   os.FileMode
		wantOK bool
	}{
		{0o600, false},
		{0o660, false}, // nobody is not in root's group
		{0o666, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%#o", tc.mode), func(t *testing.T) {
			srv := newServer(t, filepath.Join(dir, fmt.Sprintf("s%o.sock", tc.mode)), tc.mode)
			require.NoError(t, srv.Start(context.Background()))
			result, pid := runAs(t, exe, srv.SocketPath(), nobody, nobody)
			if !tc.wantOK {
				assert.Equal(t, "EACCES", result)
				return
			}
			// Connected: the server saw the other user's credentials.
			assert.Equal(t, fmt.Sprintf("OK %d %d %d", pid, nobody, nobody), result)
		})
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
