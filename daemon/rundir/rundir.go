package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Errors of Ensure; test with errors.Is.
var (
	// ErrNotDirectory: the runtime directory's path holds something else.
	ErrNotDirectory = errors.New("runtime directory path is not a directory")
	// ErrNotOwned: the runtime directory belongs to another user.
	ErrNotOwned = errors.New("runtime directory is owned by another user")
)

// Default returns the default runtime directory for the daemon name:
// /var/run/NAME as root, else $XDG_RUNTIME_DIR/NAME if that variable holds an
// absolute path, else os.TempDir()/NAME-UID.
func Default(name string) string {
	return defaultFor(name, os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR"), os.TempDir())
}

func defaultFor(name string, euid int, xdg, tmp string) string {
	switch {
	case euid == 0:
		return filepath.Join("/var/run", name)
	case xdg != "" && filepath.IsAbs(xdg):
		return filepath.Join(xdg, name)
	}
	return filepath.Join(tmp, name+"-"+strconv.Itoa(euid))
}

// Ensure makes sure dir exists as a directory that this process's user (or
// root) owns. It creates a missing directory (and missing parents, with mode
// 0755) with exactly mode, whatever the umask, and reports whether it did, so
// that a daemon that fails to start can remove what it created. An existing
// directory keeps its mode. A path that is not a directory is refused with
// ErrNotDirectory, a directory owned by another user with ErrNotOwned.
func Ensure(dir string, mode fs.FileMode) (created bool, err error) {
	if dir == "" {
		return false, fmt.Errorf("runtime directory: empty path: give a directory, e.g. --runtime-dir /run/NAME")
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil:
		return false, check(dir, st)
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("runtime directory %s: %w", dir, notDir(err))
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return false, fmt.Errorf("runtime directory %s: create parent: %w", dir, notDir(err))
		}
	}
	if err := os.Mkdir(dir, mode.Perm()); err != nil {
		if errors.Is(err, fs.ErrExist) { // created meanwhile
			st, serr := os.Stat(dir)
			if serr != nil {
				return false, fmt.Errorf("runtime directory %s: %w", dir, serr)
			}
			return false, check(dir, st)
		}
		return false, fmt.Errorf("runtime directory %s: create: %w", dir, notDir(err))
	}
	if err := os.Chmod(dir, mode.Perm()); err != nil { // undo the umask
		_ = os.Remove(dir)
		return false, fmt.Errorf("runtime directory %s: set mode %#o: %w", dir, mode.Perm(), err)
	}
	return true, nil
}

// notDir turns "not a directory" errors of a parent into ErrNotDirectory.
func notDir(err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: a parent is not a directory: %w", ErrNotDirectory, err)
	}
	return err
}

func check(dir string, st fs.FileInfo) error {
	if !st.IsDir() {
		return fmt.Errorf("runtime directory %s: %w (it is a %s): remove it or choose another directory", dir, ErrNotDirectory, kind(st.Mode()))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		euid := os.Geteuid()
		if int(sys.Uid) != euid && sys.Uid != 0 {
			return fmt.Errorf("runtime directory %s: %w (uid %d, this process runs as uid %d): choose a directory of your own", dir, ErrNotOwned, sys.Uid, euid)
		}
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of mode " + m.String()
}
