package unixsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxPathLen is the longest socket path the kernel accepts: sun_path holds
// 108 bytes including the terminating NUL.
const MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

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

// CheckPath reports why path cannot hold a socket, if it cannot: it is empty
// (ErrPathEmpty), too long (ErrPathTooLong), or its directory is missing
// or not a directory (ErrDirNotFound).
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("%w: give the path of the socket to create", ErrPathEmpty)
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
// socket that refuses connections.
//
// The socket file never exists at path with other permissions than mode,
// and the process umask is never touched (it belongs to every goroutine):
// the socket is bound inside a private 0700 directory next to path, given
// its mode there, and moved into place with renameat2(RENAME_NOREPLACE), so
// that it never replaces a file created at path meanwhile either.
func Listen(path string, mode os.FileMode) (*Listener, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	private, err := newPrivateDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer private.remove()

	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("create socket for %s: %w", path, err)
	}
	file := os.NewFile(uintptr(fd), path) // closes fd when we are done with it
	defer file.Close()
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: private.bindName()}); err != nil {
		return nil, fmt.Errorf("bind socket for %s in %s: %w", path, private.path, err)
	}
	// Inside the private directory nobody else can reach the socket yet;
	// set its exact mode before it appears at path.
	if err := unix.Fchmodat(private.fd, socketName, uint32(mode.Perm()), 0); err != nil {
		return nil, fmt.Errorf("set mode %04o on socket %s: %w", mode.Perm(), path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(private.fd, socketName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, fmt.Errorf("stat new socket for %s: %w", path, err)
	}
	if err := unix.Listen(fd, backlog()); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := moveNoReplace(private, path); err != nil {
		return nil, err
	}
	ln, err := net.FileListener(file)
	if err != nil {
		_ = unlinkIfSame(path, uint64(st.Dev), st.Ino)
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the file is ours; Remove deletes it only while it still is
	return &Listener{UnixListener: ul, path: path, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// socketName is the socket's name in the private directory.
const socketName = "s"

// privateDir is a directory only this user can enter, made next to the
// socket's final path to bind the socket in.
type privateDir struct {
	path string
	fd   int // an O_PATH descriptor of the directory
}

func newPrivateDir(parent string) (*privateDir, error) {
	path, err := os.MkdirTemp(parent, ".drpc-")
	if err != nil {
		return nil, fmt.Errorf("create a private directory in %s to create the socket in (may this user write to %s?): %w", parent, parent, err)
	}
	// MkdirTemp applies the umask to 0700; the directory must stay
	// usable by this user and closed to others whatever the umask is.
	if err := os.Chmod(path, 0o700); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("set mode of private directory %s: %w", path, err)
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("open private directory %s: %w", path, err)
	}
	return &privateDir{path: path, fd: fd}, nil
}

// bindName is the name to bind the socket to: its path in the directory if
// that fits in sun_path, else the same file reached through the
// directory's descriptor, which is always short.
func (d *privateDir) bindName() string {
	if p := filepath.Join(d.path, socketName); len(p) <= MaxPathLen {
		return p
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.fd, socketName)
}

// remove deletes the directory and whatever is left in it.
func (d *privateDir) remove() {
	_ = unix.Unlinkat(d.fd, socketName, 0)
	_ = unix.Close(d.fd)
	_ = os.Remove(d.path)
}

// moveNoReplace moves the socket from the private directory to path, and
// fails with ErrSocketInUse if anything exists at path.
func moveNoReplace(d *privateDir, path string) error {
	err := unix.Renameat2(d.fd, socketName, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// The file system cannot rename without replacing: a hard link
		// fails the same way if path exists.
		err = unix.Linkat(d.fd, socketName, unix.AT_FDCWD, path, 0)
		if err == nil {
			_ = unix.Unlinkat(d.fd, socketName, 0)
		}
	}
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %s was created by someone else while this server started", ErrSocketInUse, path)
	case err != nil:
		return fmt.Errorf("move new socket to %s: %w", path, err)
	}
	return nil
}

// backlog is the listen backlog: the kernel's maximum, as Go's net package
// uses.
func backlog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return min(n, 1<<16-1)
		}
	}
	return unix.SOMAXCONN
}

// Addr returns the socket's path (the kernel would name the private
// directory it was bound in).
func (l *Listener) Addr() net.Addr {
	return &net.UnixAddr{Name: l.path, Net: "unixpacket"}
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
	_ = unlinkIfSame(l.path, l.dev, l.ino)
}

// unlinkIfSame removes path if it is still the file dev/ino.
func unlinkIfSame(path string, dev, ino uint64) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	if uint64(st.Dev) != dev || st.Ino != ino {
		return nil
	}
	return unix.Unlink(path)
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
