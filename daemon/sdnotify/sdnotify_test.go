package sdnotify_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/sdnotify"
)

func TestNotify(t *testing.T) {
	conn := daemontest.SetNotifySocket(t)
	assert.True(t, sdnotify.Enabled())
	tests := []struct {
		name string
		send func() error
		want string
	}{
		{"ready", func() error { return sdnotify.Ready("") }, "READY=1"},
		{"ready with status", func() error { return sdnotify.Ready("listening on /x.sock") }, "READY=1\nSTATUS=listening on /x.sock"},
		{"stopping", func() error { return sdnotify.Stopping("") }, "STOPPING=1"},
		{"status", func() error { return sdnotify.Status("two\nlines") }, "STATUS=two lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.send())
			assert.Equal(t, tt.want, conn.Read(t))
		})
	}
	require.NoError(t, sdnotify.Notify("", ""), "nothing to send is not an error")
}

func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	assert.False(t, sdnotify.Enabled())
	assert.NoError(t, sdnotify.Ready("x"))
	assert.NoError(t, sdnotify.Stopping(""))
	assert.NoError(t, sdnotify.Status("x"))
}

func TestUnreachableSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	err := sdnotify.Ready("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `notify systemd of "READY=1" through NOTIFY_SOCKET=`)
}
