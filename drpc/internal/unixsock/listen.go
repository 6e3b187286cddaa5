package unixsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxPathLen is the longest socket path the kernel accepts: sun_path holds
// 108 bytes including the terminating NUL.
const MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

// umaskMu serializes the umask changes around bind: the umask belongs to the
// whole process.
var umaskMu sync.Mutex

// Listener is a listening SOCK_SEQPACKET socket that remembers the file it
// created, so that Close (or Remove) deletes that file and never a
// successor's.
type Listener struct {
	*net.UnixListener
	path     string
	dev, ino uint64

	mu     sync.Mutex // guards closed, and orders Remove before the close
	closed bool
}

// CheckPath reports why path cannot hold a socket, if it cannot: it is empty,
// too long, or its directory is missing.
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("%w: the socket path is empty", ErrDirNotFound)
	}
	if len(path) > MaxPathLen {
		return fmt.Errorf("%w: %q is %d bytes, the kernel allows %d: choose a shorter path or directory", ErrPathTooLong, path, len(path), MaxPathLen)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %s: create it before starting the server", ErrDirNotFound, dir)
	case err != nil:
		return fmt.Errorf("socket directory %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrDirNotFound, dir)
	}
	return nil
}

// Listen creates a SOCK_SEQPACKET socket at path with permissions mode and
// listens on it. It refuses a path where a server listens (ErrSocketInUse)
// or that holds anything but a socket (ErrNotSocket), and removes a stale
// socket that refuses connections. The socket file never exists with wider
// permissions than mode: the umask is set for the bind.
func Listen(path string, mode os.FileMode) (*Listener, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}

	umaskMu.Lock()
	old := unix.Umask(int(0o777 &^ mode.Perm()))
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	unix.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s was created by someone else while this server started", ErrSocketInUse, path)
		}
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The file is ours; Remove deletes it only while it still is.
	ln.SetUnlinkOnClose(false)
	l := &Listener{UnixListener: ln, path: path}

	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("stat new socket %s: %w", path, err)
	}
	l.dev, l.ino = uint64(st.Dev), st.Ino
	// A default ACL on the directory can override the umask: make the mode
	// exact in every case.
	if err := os.Chmod(path, mode.Perm()); err != nil {
		_ = l.Close() // removes the file too
		return nil, fmt.Errorf("set mode %v on socket %s: %w", mode.Perm(), path, err)
	}
	return l, nil
}

// Close removes the socket file, if it is still the one Listen created, and
// then closes the socket. The file goes first because only while the socket
// is open does the inode number identify the file: once the socket is
// closed and the file unlinked, the file system may give the same number to
// a file created in its place at once.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.removeLocked()
		l.closed = true
	}
	return l.UnixListener.Close()
}

// Remove deletes the socket file if it is still the one Listen created.
// After Close it does nothing: Close has removed the file, and the inode
// number no longer tells whose a file at the path is.
func (l *Listener) Remove() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.removeLocked()
	}
}

func (l *Listener) removeLocked() {
	var st unix.Stat_t
	if err := unix.Lstat(l.path, &st); err != nil {
		return
	}
	if uint64(st.Dev) == l.dev && st.Ino == l.ino {
		_ = unix.Unlink(l.path)
	}
}

// removeStale makes path free for a new socket: nothing there is fine, a
// socket that refuses connections is stale and removed; a listening socket
// or a file that is not a socket is left alone and reported.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket path %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%w: %s is a %s: remove it or choose another path", ErrNotSocket, path, kind(fi.Mode()))
	}
	inUse, err := listening(path)
	if err != nil {
		return err
	}
	if inUse {
		return fmt.Errorf("%w: %s: stop the other server or choose another path", ErrSocketInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// listening dials the socket at path: a connection means a server listens,
// ECONNREFUSED means nobody does (stale).
func listening(path string) (bool, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("check socket %s: %w", path, err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ECONNREFUSED), errors.Is(err, unix.ENOENT):
		return false, nil
	case errors.Is(err, unix.EPROTOTYPE):
		// A socket of another type (stream, datagram) is bound there.
		return true, nil
	default:
		return false, fmt.Errorf("check whether a server listens on %s: %w", path, err)
	}
}

// kind names a file type for error messages.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsRegular():
		return "regular file"
	default:
		return "non-socket file"
	}
}
