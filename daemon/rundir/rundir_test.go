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
	made, err := rundir.Ensure(dir, 0o755)
	require.NoError(t, err)
	assert.Equal(t, rundir.Made{filepath.Join(base, "a"), dir}, made, "the parent too, outermost first")
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "the mode must not depend on the umask")

	again, err := rundir.Ensure(dir, 0o700)
	require.NoError(t, err)
	assert.Empty(t, again, "an existing directory is not created again")
	st, err = os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "an existing directory keeps its mode")

	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = rundir.Ensure(file, 0o755)
	require.ErrorIs(t, err, rundir.ErrNotDirectory)
	assert.Contains(t, err.Error(), "it is a regular file")

	made.Remove()
	_, err = os.Lstat(filepath.Join(base, "a"))
	assert.ErrorIs(t, err, os.ErrNotExist, "Remove takes away every directory Ensure made")

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

func TestMadeRemoveKeepsWhatOthersAdded(t *testing.T) {
	base := t.TempDir()
	made, err := rundir.Ensure(filepath.Join(base, "a", "b", "c"), 0o755)
	require.NoError(t, err)
	require.Len(t, made, 3)
	require.NoError(t, os.WriteFile(filepath.Join(base, "a", "b", "theirs"), nil, 0o644))
	made.Remove()
	_, err = os.Lstat(filepath.Join(base, "a", "b", "c"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Lstat(filepath.Join(base, "a", "b", "theirs"))
	assert.NoError(t, err, "a directory that is not empty stays, with what is in it")
}

func TestCheckSecure(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name   string
		setup  func(t *testing.T, base string) string // returns the directory to check
		refuse string                                 // a part of the error; "" for none
		asRoot bool                                   // needs root (chown)
	}{
		{"a private directory", func(t *testing.T, base string) string { return mkdir(t, base, "d", 0o755) }, "", false},
		{"writable by all", func(t *testing.T, base string) string { return mkdir(t, base, "d", 0o777) },
			"is writable by every user (mode 0777, no sticky bit): another user could move the socket away and serve their own: chmod o-w", false},
		{"writable by all, sticky", func(t *testing.T, base string) string {
			return mkdir(t, base, "d", 0o777|os.ModeSticky)
		}, "", false},
		{"a parent writable by all", func(t *testing.T, base string) string {
			p := mkdir(t, base, "p", 0o777)
			return mkdir(t, p, "d", 0o755)
		}, ", above it, is writable by every user", false},
		{"a link to a safe directory in a safe one", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o755)
			link := filepath.Join(base, "link")
			require.NoError(t, os.Symlink(d, link))
			return link
		}, "", false},
		{"a link to a directory writable by all", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o777)
			link := filepath.Join(base, "link")
			require.NoError(t, os.Symlink(d, link))
			return link
		}, "is writable by every user", false},
		{"a link in a directory writable by all", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o755)
			p := mkdir(t, base, "p", 0o777)
			link := filepath.Join(p, "link")
			require.NoError(t, os.Symlink(d, link))
			return link
		}, ", above it, is writable by every user", false},
		{"writable by a group", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o775)
			require.NoError(t, os.Chown(d, 0, 65534))
			return d
		}, "is writable by group 65534 (mode 0775, no sticky bit)", true},
		{"writable by the root group", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o775)
			require.NoError(t, os.Chown(d, 0, 0))
			return d
		}, "", true},
		{"owned by another user", func(t *testing.T, base string) string {
			d := mkdir(t, base, "d", 0o755)
			require.NoError(t, os.Chown(d, 65534, 65534))
			return d
		}, "is owned by uid 65534, who could replace what is in it: another user could move the socket away and serve their own: chown 0", true},
		{"a file", func(t *testing.T, base string) string {
			f := filepath.Join(base, "f")
			require.NoError(t, os.WriteFile(f, nil, 0o644))
			return f
		}, "is a regular file", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.asRoot && !root {
				t.Skip("needs root to change a directory's owner")
			}
			base := mkdir(t, t.TempDir(), "base", 0o755)
			dir := tc.setup(t, base)
			err := rundir.CheckSecure(dir)
			if tc.refuse == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.refuse)
			assert.Contains(t, err.Error(), "runtime directory "+dir+":", "the error names the directory given")
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
		})
	}
}

// mkdir makes dir/name with exactly mode and returns its path.
func mkdir(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.Mkdir(p, 0o700))
	require.NoError(t, os.Chmod(p, mode))
	return p
}
