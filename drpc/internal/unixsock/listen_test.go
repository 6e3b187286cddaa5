package unixsock_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cc532012/drpc/drpc/internal/unixsock"
)

// shortDir returns a new directory with a short path (t.TempDir's can
// exceed the 107 bytes a socket path may have), removed when the test ends.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "us")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// listen calls Listen and closes and removes the socket when the test ends.
func listen(t testing.TB, path string, mode os.FileMode) *unixsock.Listener {
	t.Helper()
	l, err := unixsock.Listen(path, mode)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = l.Close()
		l.Remove()
	})
	return l
}

// dial connects to a SOCK_SEQPACKET socket at path.
func dial(path string) error {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err == nil {
		_ = c.Close()
	}
	return err
}

// withUmask runs f with the process umask set to mask, then restores it.
func withUmask(mask int, f func()) {
	old := unix.Umask(mask)
	defer unix.Umask(old)
	f()
}

// staleSocket leaves a socket file at path that nobody listens on, made the
// way the caller picks.
func staleSocket(t testing.TB, path string, how string) {
	t.Helper()
	switch how {
	case "closed Go listener":
		ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
		require.NoError(t, err)
		ln.SetUnlinkOnClose(false)
		require.NoError(t, ln.Close())
	case "bound raw socket", "bound stream socket":
		typ := unix.SOCK_SEQPACKET
		if how == "bound stream socket" {
			typ = unix.SOCK_STREAM
		}
		fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
		require.NoError(t, err)
		require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
		require.NoError(t, unix.Close(fd))
	default:
		t.Fatalf("unknown stale socket %q", how)
	}
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
}

func TestListenServes(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	l := listen(t, path, 0o600)
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	assert.Equal(t, "unixpacket", l.Addr().Network())

	go func() {
		if c, err := l.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	assert.NoError(t, dial(path))
}

func TestListenModeIsExact(t *testing.T) {
	dir := shortDir(t)
	for _, mask := range []int{0, 0o022, 0o077, 0o777} {
		for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o644, 0o700} {
			withUmask(mask, func() {
				path := filepath.Join(dir, "m.sock")
				l, err := unixsock.Listen(path, mode)
				require.NoError(t, err)
				fi, err := os.Lstat(path)
				require.NoError(t, err)
				assert.Equal(t, mode, fi.Mode().Perm(), "mode %#o under umask %#o", mode, mask)
				assert.Equal(t, mask, unix.Umask(mask), "Listen must restore the umask")
				_ = l.Close()
				l.Remove()
			})
		}
	}
}

func TestListenModeConcurrently(t *testing.T) {
	// The umask belongs to the process: concurrent Listens must not see
	// each other's.
	dir := shortDir(t)
	modes := []os.FileMode{0o600, 0o666, 0o660, 0o644}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			mode := modes[i%len(modes)]
			path := filepath.Join(dir, "c"+strings.Repeat("x", i)+".sock")
			l, err := unixsock.Listen(path, mode)
			if !assert.NoError(t, err) {
				return
			}
			defer func() {
				_ = l.Close()
				l.Remove()
			}()
			fi, err := os.Lstat(path)
			if assert.NoError(t, err) {
				assert.Equal(t, mode, fi.Mode().Perm())
			}
		})
	}
	wg.Wait()
}

func TestListenLeavesUmaskAlone(t *testing.T) {
	// The umask belongs to the whole process: while servers start, another
	// goroutine creating files must get exactly the modes it asks for. (A
	// Listen that set the umask around bind made such files 0600.)
	dir := shortDir(t)
	old := unix.Umask(0o022)
	defer unix.Umask(old)

	stop := make(chan struct{})
	var created, wrong []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(dir, fmt.Sprintf("d%d", i))
			if err := os.Mkdir(p, 0o755); err != nil {
				wrong = append(wrong, p+": "+err.Error())
				continue
			}
			created = append(created, p)
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
				wrong = append(wrong, fmt.Sprintf("%s: %v", p, fi.Mode()))
			}
		}
	}()
	for i := range 300 {
		path := filepath.Join(dir, fmt.Sprintf("u%d.sock", i%3))
		l, err := unixsock.Listen(path, 0o600)
		require.NoError(t, err)
		_ = l.Close()
	}
	close(stop)
	<-done
	assert.NotEmpty(t, created)
	assert.Empty(t, wrong, "directories created with 0755 while servers started got another mode")
	assert.Equal(t, 0o022, unix.Umask(0o022), "the umask is untouched")
}

func TestListenLeavesNothingBehind(t *testing.T) {
	// The private directory the socket is bound in goes away, on success
	// and on failure.
	dir := shortDir(t)
	path := filepath.Join(dir, "n.sock")
	l := listen(t, path, 0o666)
	_, err := unixsock.Listen(path, 0o600)
	require.ErrorIs(t, err, unixsock.ErrSocketInUse)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "n.sock", entries[0].Name())
	require.NoError(t, l.Close())
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestListenRefusesPathInUse(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	first := listen(t, path, 0o600)
	go func() {
		for {
			c, err := first.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	_, err := unixsock.Listen(path, 0o600)
	require.ErrorIs(t, err, unixsock.ErrSocketInUse)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "stop the other server or choose another path")
	assert.NoError(t, dial(path), "the first listener must keep its socket")
}

func TestListenRefusesOtherSocketTypeInUse(t *testing.T) {
	for _, network := range []string{"unix", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s.sock")
			var closer interface{ Close() error }
			if network == "unix" {
				ln, err := net.Listen(network, path)
				require.NoError(t, err)
				closer = ln
			} else {
				pc, err := net.ListenPacket(network, path)
				require.NoError(t, err)
				closer = pc
			}
			defer closer.Close()

			_, err := unixsock.Listen(path, 0o600)
			require.ErrorIs(t, err, unixsock.ErrSocketInUse)
			fi, err := os.Lstat(path)
			require.NoError(t, err, "the other socket must stay")
			assert.Equal(t, os.ModeSocket, fi.Mode().Type())
		})
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	for _, how := range []string{"closed Go listener", "bound raw socket", "bound stream socket"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s.sock")
			staleSocket(t, path, how)
			l := listen(t, path, 0o600)
			go func() {
				if c, err := l.Accept(); err == nil {
					_ = c.Close()
				}
			}()
			assert.NoError(t, dial(path))
		})
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		kind string // in the error message
	}{
		{"regular file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("precious"), 0o640))
		}, "regular file"},
		{"empty regular file", func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
		}, "regular file"},
		{"directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o750))
			require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), []byte("precious"), 0o600))
		}, "directory"},
		{"symlink to a file", func(t *testing.T, path string) {
			target := path + ".target"
			require.NoError(t, os.WriteFile(target, []byte("precious"), 0o600))
			require.NoError(t, os.Symlink(target, path))
		}, "symbolic link"},
		{"symlink to a stale socket", func(t *testing.T, path string) {
			target := path + ".target"
			staleSocket(t, target, "bound raw socket")
			require.NoError(t, os.Symlink(target, path))
		}, "symbolic link"},
		{"dangling symlink", func(t *testing.T, path string) {
			require.NoError(t, os.Symlink(path+".nowhere", path))
		}, "symbolic link"},
		{"named pipe", func(t *testing.T, path string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "named pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s.sock")
			tc.make(t, path)
			before := snapshot(t, path)

			_, err := unixsock.Listen(path, 0o600)
			require.ErrorIs(t, err, unixsock.ErrNotSocket)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), tc.kind)
			assert.Contains(t, err.Error(), "remove it or choose another path")
			assert.Equal(t, before, snapshot(t, path), "the file must be left untouched")
		})
	}
}

// snapshot describes the file at path and what it holds, to show it was
// not changed.
func snapshot(t testing.TB, path string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	s := []string{path, fmt.Sprint(st.Mode, st.Ino, st.Size, st.Mtim.Nano())}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		s = append(s, string(b))
	case unix.S_IFDIR:
		entries, err := os.ReadDir(path)
		require.NoError(t, err)
		for _, e := range entries {
			s = append(s, e.Name())
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		require.NoError(t, err)
		s = append(s, target)
	}
	return strings.Join(s, "|")
}

func TestListenSocketDir(t *testing.T) {
	dir := shortDir(t)
	notDir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	tests := []struct {
		name string
		path string
		want string
		is   error
	}{
		{"missing directory", filepath.Join(dir, "missing", "s.sock"), "create it before starting the server", unixsock.ErrDirNotFound},
		{"missing tree", filepath.Join(dir, "a", "b", "c", "s.sock"), "does not exist", unixsock.ErrDirNotFound},
		{"parent is a file", filepath.Join(notDir, "s.sock"), "is not a directory", unixsock.ErrDirNotFound},
		{"empty path", "", "socket path is empty", unixsock.ErrPathEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unixsock.Listen(tc.path, 0o600)
			require.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.want)
			assert.ErrorIs(t, unixsock.CheckPath(tc.path), tc.is)
		})
	}
	_, err := os.Stat(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist, "Listen must not create the directory")
}

func TestListenPathLength(t *testing.T) {
	assert.Equal(t, 107, unixsock.MaxPathLen, "sun_path holds 108 bytes with the NUL")
	dir := shortDir(t)
	pathOf := func(n int) string {
		p := dir + "/"
		return p + strings.Repeat("s", n-len(p))
	}

	long := pathOf(unixsock.MaxPathLen + 1)
	_, err := unixsock.Listen(long, 0o600)
	require.ErrorIs(t, err, unixsock.ErrPathTooLong)
	assert.Contains(t, err.Error(), "108 bytes")
	assert.Contains(t, err.Error(), "choose a shorter path")
	_, err = os.Lstat(long)
	assert.ErrorIs(t, err, os.ErrNotExist)

	longest := pathOf(unixsock.MaxPathLen)
	l := listen(t, longest, 0o600)
	go func() {
		if c, err := l.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	assert.NoError(t, dial(longest))
}

func TestCloseRemovesSocketFile(t *testing.T) {
	path := filepath.Join(shortDir(t), "s.sock")
	l, err := unixsock.Listen(path, 0o600)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	l.Remove() // nothing there, nothing to do
	assert.Error(t, l.Close(), "a second Close reports the closed socket")
}

func TestRemove(t *testing.T) {
	t.Run("removes its own file", func(t *testing.T) {
		path := filepath.Join(shortDir(t), "s.sock")
		l := listen(t, path, 0o600)
		l.Remove()
		_, err := os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist)
		l.Remove() // again: nothing there, nothing to do
	})
	t.Run("spares a successor's socket", func(t *testing.T) {
		path := filepath.Join(shortDir(t), "s.sock")
		first, err := unixsock.Listen(path, 0o600)
		require.NoError(t, err)
		require.NoError(t, os.Remove(path))
		second := listen(t, path, 0o600)

		first.Remove()
		require.NoError(t, first.Close())
		first.Remove()
		go func() {
			if c, err := second.Accept(); err == nil {
				_ = c.Close()
			}
		}()
		assert.NoError(t, dial(path), "the second listener's socket must stay")
	})
	// A file created after the socket's own file is gone may get the same
	// inode number (ext4 hands a freed number out again at once): neither
	// Close nor a later Remove may take it for the socket's file.
	for _, replace := range []string{"regular file", "stale socket"} {
		t.Run("spares a "+replace+" put in its place", func(t *testing.T) {
			dir := shortDir(t)
			path := filepath.Join(dir, "s.sock")
			put := func() {
				if replace == "regular file" {
					require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))
				} else {
					staleSocket(t, path, "bound raw socket")
				}
			}
			for range 20 { // inode numbers get reused often, not always
				l, err := unixsock.Listen(path, 0o600)
				require.NoError(t, err)
				require.NoError(t, os.Remove(path))
				put()
				require.NoError(t, l.Close())
				_, err = os.Lstat(path)
				require.NoError(t, err, "Close removed a file that was not its socket's")

				require.NoError(t, os.Remove(path))
				put()
				l.Remove()
				_, err = os.Lstat(path)
				require.NoError(t, err, "Remove after Close removed a file that was not its socket's")
				require.NoError(t, os.Remove(path))
			}
		})
	}
}
