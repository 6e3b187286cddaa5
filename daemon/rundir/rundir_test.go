package rundir_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/daemon/rundir"
)

func TestDefaultFor(t *testing.T) {
	tests := []struct {
		name     string
		euid     int
		xdg, tmp string
		want     string
	}{
		{"root", 0, "/run/user/0", "/tmp", "/var/run/daos_agent"},
		{"user with XDG", 1000, "/run/user/1000", "/tmp", "/run/user/1000/daos_agent"},
		{"user with relative XDG", 1000, "run", "/tmp", "/tmp/daos_agent-1000"},
		{"user without XDG", 1000, "", "/var/tmp", "/var/tmp/daos_agent-1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rundir.DefaultFor("daos_agent", tt.euid, tt.xdg, tt.tmp))
		})
	}
}

func TestDefault(t *testing.T) {
	got := rundir.Default("x")
	if os.Geteuid() == 0 {
		assert.Equal(t, "/var/run/x", got)
	} else {
		assert.True(t, strings.HasSuffix(got, "x") || strings.Contains(got, "x-"), got)
	}
}

func TestEnsure(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	base := t.TempDir()

	dir := filepath.Join(base, "a", "b")
	created, err := rundir.Ensure(dir, 0o755)
	require.NoError(t, err)
	assert.True(t, created)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "the mode must not depend on the umask")

	created, err = rundir.Ensure(dir, 0o700)
	require.NoError(t, err)
	assert.False(t, created, "an existing directory is not created again")
	st, err = os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "an existing directory keeps its mode")

	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = rundir.Ensure(file, 0o755)
	require.ErrorIs(t, err, rundir.ErrNotDirectory)
	assert.Contains(t, err.Error(), "it is a regular file")

	_, err = rundir.Ensure(filepath.Join(file, "sub"), 0o755)
	require.ErrorIs(t, err, rundir.ErrNotDirectory)

	_, err = rundir.Ensure("", 0o755)
	require.Error(t, err)
}

// TestEnsureNotOwned: a directory that another (non-root) user owns is
// refused. Changing the owner needs root.
func TestEnsureNotOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	_, err := rundir.Ensure(dir, 0o755)
	require.ErrorIs(t, err, rundir.ErrNotOwned)
	assert.Contains(t, err.Error(), "uid 65534")
}
