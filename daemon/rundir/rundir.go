package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// Errors of Ensure and CheckSecure; test with errors.Is.
var (
	// ErrNotDirectory: the runtime directory's path holds something else.
	ErrNotDirectory = errors.New("runtime directory path is not a directory")
	// ErrNotOwned: the runtime directory belongs to another user.
	ErrNotOwned = errors.New("runtime directory is owned by another user")
	// ErrInsecure: the runtime directory, or a directory above it, may be
	// changed by a user other than root and the daemon's: that user could
	// move the daemon's socket away and serve their own in its place.
	ErrInsecure = errors.New("runtime directory is not safe from other users")
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

// Made lists the directories that Ensure created, the runtime directory
// last; Remove takes them away again.
type Made []string

// Remove removes the directories Ensure created, innermost first, as long
// as they are empty: a daemon that stops, or fails to start, leaves the
// file system as it found it, and never removes what someone else put
// there.
func (m Made) Remove() {
	for _, dir := range slices.Backward(m) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

// Ensure makes sure dir exists as a directory that this process's user (or
// root) owns. It creates a missing directory with exactly mode, whatever the
// umask, and missing parents with mode 0755, and returns what it created
// (see Made.Remove). An existing directory keeps its mode. A path that is
// not a directory is refused with ErrNotDirectory, a directory owned by
// another user with ErrNotOwned.
func Ensure(dir string, mode fs.FileMode) (made Made, err error) {
	if dir == "" {
		return nil, fmt.Errorf("runtime directory: empty path: give a directory, e.g. --runtime-dir /run/NAME")
	}
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	switch {
	case err == nil:
		return nil, check(dir, st)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("runtime directory %s: %w", dir, notDir(err))
	}
	defer func() {
		if err != nil {
			made.Remove()
			made = nil
		}
	}()
	// The missing directories, outermost first.
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		perm := fs.FileMode(0o755)
		if d == dir {
			perm = mode.Perm()
		}
		if err := os.Mkdir(d, perm); err != nil {
			if errors.Is(err, fs.ErrExist) && d == dir { // created meanwhile
				st, serr := os.Stat(dir)
				if serr != nil {
					return made, fmt.Errorf("runtime directory %s: %w", dir, serr)
				}
				return made, check(dir, st)
			}
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return made, fmt.Errorf("runtime directory %s: create %s: %w", dir, d, notDir(err))
		}
		made = append(made, d)
		if err := os.Chmod(d, perm); err != nil { // undo the umask
			return made, fmt.Errorf("runtime directory %s: set mode %04o on %s: %w", dir, perm, d, err)
		}
	}
	return made, nil
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
		return fmt.Errorf("runtime directory %s: %w (it is %s): remove it or choose another directory", dir, ErrNotDirectory, Kind(st.Mode()))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		euid := os.Geteuid()
		if int(sys.Uid) != euid && sys.Uid != 0 {
			return fmt.Errorf("runtime directory %s: %w (uid %d, this process runs as uid %d): choose a directory of your own", dir, ErrNotOwned, sys.Uid, euid)
		}
	}
	return nil
}

// Kind names the type of a file for messages: "a regular file", "a
// directory", "a socket"...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
