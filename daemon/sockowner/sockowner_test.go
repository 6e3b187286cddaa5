package sockowner_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/sockowner"
)

// comm is this process's command name, as the kernel reports it.
func comm(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// TestLookup: the listener of a live socket is this test process, whatever
// the socket type; a stale socket, a missing path and a file that is not a
// socket are errors, and Describe then says "another process".
func TestLookup(t *testing.T) {
	dir := daemontest.SocketDir(t)
	seqpacket := filepath.Join(dir, "seqpacket.sock")
	daemontest.LiveSocket(t, seqpacket)
	stream := filepath.Join(dir, "stream.sock")
	ln, err := net.Listen("unix", stream)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	stale := filepath.Join(dir, "stale.sock")
	daemontest.StaleSocket(t, stale)
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	me := sockowner.Owner{PID: os.Getpid(), Name: comm(t)}
	tests := []struct {
		name    string
		path    string
		want    sockowner.Owner
		wantErr error // nil: found
	}{
		{"SOCK_SEQPACKET listener", seqpacket, me, nil},
		{"SOCK_STREAM listener", stream, me, nil},
		{"stale socket", stale, sockowner.Owner{}, syscall.ECONNREFUSED},
		{"missing path", filepath.Join(dir, "missing.sock"), sockowner.Owner{}, os.ErrNotExist},
		{"not a socket", file, sockowner.Owner{}, syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sockowner.Lookup(context.Background(), tt.path)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), tt.path)
				assert.Equal(t, "another process", sockowner.Describe(tt.path))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, "process "+strconv.Itoa(os.Getpid())+" ("+me.Name+")", sockowner.Describe(tt.path))
		})
	}
}

func TestOwnerString(t *testing.T) {
	tests := []struct {
		owner sockowner.Owner
		want  string
	}{
		{sockowner.Owner{PID: 4242, Name: "drpc-agent"}, "process 4242 (drpc-agent)"},
		{sockowner.Owner{PID: 7}, "process 7"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.owner.String())
	}
}

func TestLookupCanceled(t *testing.T) {
	path := filepath.Join(daemontest.SocketDir(t), "s.sock")
	daemontest.LiveSocket(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sockowner.Lookup(ctx, path)
	require.ErrorIs(t, err, context.Canceled)
}
