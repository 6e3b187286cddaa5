package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/host"
)

// TestCleanSocketDir: start-up removes exactly the previous run's stale
// sockets, daos_server.sock and daos_engine*.sock, and nothing else.
func TestCleanSocketDir(t *testing.T) {
	dir := daemontest.SocketDir(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	daemontest.StaleSocket(t, p("daos_server.sock"))
	daemontest.StaleSocket(t, p("daos_engine0.sock"))
	daemontest.StaleSocket(t, p("daos_engine12.sock"))
	daemontest.StaleSocket(t, p("other.sock"))
	daemontest.StaleSocket(t, p("daos_engine0.sock.old"))
	daemontest.LiveSocket(t, p("daos_engine1.sock"))
	require.NoError(t, os.WriteFile(p("daos_server.sock.bak"), []byte("keep"), 0o600))
	require.NoError(t, os.WriteFile(p("daos_engine3.sock"), []byte("a regular file"), 0o600))
	require.NoError(t, os.Mkdir(p("daos_engine9.sock"), 0o755))
	daemontest.StaleSocket(t, p("target.sock"))
	require.NoError(t, os.Symlink(p("target.sock"), p("daos_engine2.sock")))

	res, err := cleanSocketDir(context.Background(), dir, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{p("daos_server.sock"), p("daos_engine0.sock"), p("daos_engine12.sock")}, res.Removed)
	assert.Equal(t, []string{p("daos_engine1.sock")}, res.Live)

	tests := []struct {
		name  string
		stays bool
	}{
		{"daos_server.sock", false},
		{"daos_engine0.sock", false},
		{"daos_engine12.sock", false},
		{"daos_server.sock.bak", true},
		{"other.sock", true},
		{"daos_engine0.sock.old", true},
		{"daos_engine1.sock", true},
		{"daos_engine3.sock", true},
		{"daos_engine9.sock", true},
		{"daos_engine2.sock", true},
		{"target.sock", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := os.Lstat(p(tc.name))
			if tc.stays {
				assert.NoError(t, err, "must stay")
			} else {
				assert.ErrorIs(t, err, os.ErrNotExist, "must be removed")
			}
		})
	}
	b, err := os.ReadFile(p("daos_server.sock.bak"))
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))
}

// TestCleanSocketDirLiveServer: a server that answers on daos_server.sock
// is an error naming the socket and the process, and nothing is removed.
func TestCleanSocketDirLiveServer(t *testing.T) {
	dir := daemontest.SocketDir(t)
	server := filepath.Join(dir, "daos_server.sock")
	daemontest.LiveSocket(t, server)
	daemontest.StaleSocket(t, filepath.Join(dir, "daos_engine0.sock"))

	_, err := cleanSocketDir(context.Background(), dir, "", slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, host.ErrSocketInUse)
	assert.Contains(t, err.Error(), server)
	assert.Contains(t, err.Error(), "process "+strconv.Itoa(os.Getpid()))
	_, err = os.Lstat(server)
	assert.NoError(t, err)
	_, err = os.Lstat(filepath.Join(dir, "daos_engine0.sock"))
	assert.NoError(t, err, "nothing is removed when a server is live")

	// An inherited listener's own path is skipped.
	res, err := cleanSocketDir(context.Background(), dir, server, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "daos_engine0.sock")}, res.Removed)
}

func TestStartSocketDir(t *testing.T) {
	// A socket directory that is not the default is never created; a path
	// that is not a directory is refused.
	dir := daemontest.SocketDir(t)
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name string
		dir  string
		want string // error text, empty for success
	}{
		{"an existing directory", dir, ""},
		{"a missing directory that is not the default", filepath.Join(dir, "missing"),
			"does not exist: create it (install -d -m 0755 " + filepath.Join(dir, "missing") + ") or give another --socket-dir (socket_dir)"},
		{"a file", file, "it is a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(testConfig(tc.dir), Options{})
			require.NoError(t, err)
			err = s.Start(context.Background())
			if tc.want != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Shutdown(context.Background()))
		})
	}
	_, err := os.Stat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a directory that is not the default is never created")
}

// TestStartRefusesLiveServer: Start fails on a socket directory where a
// server listens, and leaves it as it was.
func TestStartRefusesLiveServer(t *testing.T) {
	dir := daemontest.SocketDir(t)
	first := newServer(t, dir, nil)
	require.NoError(t, first.Start(context.Background()))
	second, err := New(testConfig(dir), Options{})
	require.NoError(t, err)
	err = second.Start(context.Background())
	require.ErrorIs(t, err, host.ErrSocketInUse)
	assert.Contains(t, err.Error(), filepath.Join(dir, SocketName))
	_, err = os.Stat(filepath.Join(dir, SocketName))
	require.NoError(t, err)
	require.NoError(t, first.Shutdown(context.Background()))
}
