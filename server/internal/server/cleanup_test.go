package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/daemontest"
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

	res, err := cleanSocketDir(dir, "", slog.New(slog.DiscardHandler))
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

	_, err := cleanSocketDir(dir, "", slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrSocketInUse)
	assert.Contains(t, err.Error(), server)
	assert.Contains(t, err.Error(), "process "+strconv.Itoa(os.Getpid()))
	_, err = os.Lstat(server)
	assert.NoError(t, err)
	_, err = os.Lstat(filepath.Join(dir, "daos_engine0.sock"))
	assert.NoError(t, err, "nothing is removed when a server is live")

	// An inherited listener's own path is skipped.
	res, err := cleanSocketDir(dir, server, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "daos_engine0.sock")}, res.Removed)
}

func TestCheckSocketDir(t *testing.T) {
	dir := daemontest.SocketDir(t)
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	ensure := func(created bool) func(string) (bool, error) {
		return func(d string) (bool, error) {
			if created {
				return true, os.Mkdir(d, 0o755)
			}
			return false, nil
		}
	}
	tests := []struct {
		name      string
		dir       string
		isDefault bool
		ensure    func(string) (bool, error)
		created   bool
		want      string // error text, empty for success
	}{
		{"an existing directory", dir, false, ensure(false), false, ""},
		{"a missing directory that is not the default", filepath.Join(dir, "missing"), false, ensure(true), false, "does not exist: create it (mkdir -p " + filepath.Join(dir, "missing")},
		{"the missing default is created", filepath.Join(dir, "default"), true, ensure(true), true, ""},
		{"a file", file, false, ensure(false), false, "is not a directory"},
		{"a file, even as the default", file, true, ensure(false), false, "is not a directory"},
		{"ensure refuses", dir, false, func(string) (bool, error) { return false, errors.New("owned by another user") }, false, "owned by another user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			created, err := checkSocketDir(tc.dir, tc.isDefault, tc.ensure)
			if tc.want != "" {
				require.ErrorIs(t, err, ErrSocketDir)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.created, created)
			st, err := os.Stat(tc.dir)
			require.NoError(t, err)
			assert.True(t, st.IsDir())
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
	require.ErrorIs(t, err, ErrSocketInUse)
	assert.Contains(t, err.Error(), filepath.Join(dir, SocketName))
	_, err = os.Stat(filepath.Join(dir, SocketName))
	require.NoError(t, err)
	require.NoError(t, first.Shutdown(context.Background()))
}
