package unixsock

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMoveNoReplace(t *testing.T) {
	// A file that appears at the path between the stale check and the move
	// is never replaced: the move fails with ErrSocketInUse.
	dir := t.TempDir()
	target := filepath.Join(dir, "t.sock")
	require.NoError(t, os.WriteFile(target, []byte("someone else's"), 0o644))

	d, err := newPrivateDir(dir)
	require.NoError(t, err)
	defer d.remove()
	fi, err := os.Stat(d.path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	require.NoError(t, os.WriteFile(filepath.Join(d.path, socketName), nil, 0o600))

	err = moveNoReplace(d, target)
	require.ErrorIs(t, err, ErrSocketInUse)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "someone else's", string(b))

	require.NoError(t, os.Remove(target))
	require.NoError(t, moveNoReplace(d, target))
	_, err = os.Stat(filepath.Join(d.path, socketName))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestBindNameOfLongPaths(t *testing.T) {
	d := &privateDir{path: "/" + string(make([]byte, MaxPathLen)), fd: 7}
	assert.Equal(t, "/proc/self/fd/7/s", d.bindName())
	d = &privateDir{path: "/tmp/.drpc-1", fd: 7}
	assert.Equal(t, "/tmp/.drpc-1/s", d.bindName())
}
