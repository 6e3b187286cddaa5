package rundir

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinks bounds the symbolic links CheckSecure follows.
const maxLinks = 40

// CheckSecure reports whether dir, and every directory above it, is safe
// from users other than root and this process's user, as OpenSSH's
// StrictModes checks a user's files: each must be owned by root or this
// user, and writable by nobody else, unless it has the sticky bit (as /tmp
// has: there nobody may move or remove another's files). Group write is
// allowed to the root group only. A symbolic link on the way is followed,
// and the path it points to is checked the same way; the directory that
// holds the link is checked too, since whoever may write it may replace
// the link.
//
// The error wraps ErrInsecure (or ErrNotDirectory) and names the
// directory at fault and the command that fixes it.
func CheckSecure(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	return checkPath(dir, abs, os.Geteuid(), 0)
}

// checkPath checks every directory of path, an absolute path, for
// CheckSecure; name is the directory as the caller gave it, for messages.
func checkPath(name, path string, uid, links int) error {
	cur := "/"
	if err := checkDir(name, cur, uid); err != nil {
		return err
	}
	parts := strings.Split(strings.Trim(filepath.Clean(path), "/"), "/")
	for i, part := range parts {
		if part == "" {
			continue
		}
		next := filepath.Join(cur, part)
		st, err := os.Lstat(next)
		if err != nil {
			return fmt.Errorf("runtime directory %s: %w", name, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if links >= maxLinks {
				return fmt.Errorf("runtime directory %s: more than %d symbolic links on the way", name, maxLinks)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return fmt.Errorf("runtime directory %s: %w", name, err)
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			rest := append([]string{target}, parts[i+1:]...)
			return checkPath(name, filepath.Join(rest...), uid, links+1)
		}
		if !st.IsDir() {
			return fmt.Errorf("runtime directory %s: %w: %s is %s", name, ErrNotDirectory, next, Kind(st.Mode()))
		}
		if err := checkDir(name, next, uid); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// checkDir checks the owner and mode of the directory path.
func checkDir(name, path string, uid int) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("runtime directory %s: %w", name, err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := st.Mode()
	sticky := mode&fs.ModeSticky != 0
	var why, fix string
	switch {
	case sys.Uid != 0 && int(sys.Uid) != uid:
		why = fmt.Sprintf("is owned by uid %d, who could replace what is in it", sys.Uid)
		fix = fmt.Sprintf("chown %d %s", uid, path)
	case mode&0o002 != 0 && !sticky:
		why = fmt.Sprintf("is writable by every user (mode %04o, no sticky bit)", mode.Perm())
		fix = "chmod o-w " + path
	case mode&0o020 != 0 && sys.Gid != 0 && !sticky:
		why = fmt.Sprintf("is writable by group %d (mode %04o, no sticky bit)", sys.Gid, mode.Perm())
		fix = "chmod g-w " + path
	default:
		return nil
	}
	where := path
	if filepath.Clean(path) != filepath.Clean(name) {
		where = path + ", above it,"
	}
	return fmt.Errorf("runtime directory %s: %w: %s %s: another user could move the socket away and serve their own: %s",
		name, ErrInsecure, where, why, fix)
}
