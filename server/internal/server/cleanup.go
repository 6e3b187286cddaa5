package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/cc532012/drpc/daemon/sockowner"
)

// Errors of the start-up checks; test with errors.Is.
var (
	// ErrSocketDir: the socket directory is missing or not a directory.
	ErrSocketDir = errors.New("bad socket directory")
	// ErrSocketInUse: another server listens on daos_server.sock.
	ErrSocketInUse = errors.New("server socket is in use")
)

// checkSocketDir checks that dir exists and is a directory. Only the
// default directory (isDefault) is created when missing; created tells
// whether it was.
func checkSocketDir(dir string, isDefault bool, ensure func(string) (bool, error)) (created bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return false, fmt.Errorf("%w: %s is not a directory (%v): give a directory with --socket-dir (socket_dir)", ErrSocketDir, dir, st.Mode().Type())
	case errors.Is(err, os.ErrNotExist) && !isDefault:
		return false, fmt.Errorf("%w: %s does not exist: create it (mkdir -p %s) or give another --socket-dir (socket_dir)", ErrSocketDir, dir, dir)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("%w: %w", ErrSocketDir, err)
	}
	// The default directory is created; an existing one is checked (a
	// directory, owned by this user or root).
	created, err = ensure(dir)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrSocketDir, err)
	}
	return created, nil
}

// cleanResult tells what cleanSocketDir did.
type cleanResult struct {
	// Removed are the stale sockets removed.
	Removed []string
	// Live are engine sockets that a process answers on, left alone.
	Live []string
}

// cleanSocketDir removes the previous run's sockets from dir: daos_server.sock
// and every daos_engine*.sock, if they are sockets that nobody listens on
// (connecting is refused). It leaves alone everything else: other names,
// files and directories that are not sockets, engine sockets where a process
// still listens, and skip (an inherited listener's path). A server that
// answers on daos_server.sock is an error (ErrSocketInUse) that names it and
// its process; daos_server.sock is looked at first, so that nothing is
// removed then.
func cleanSocketDir(dir, skip string, log *slog.Logger) (cleanResult, error) {
	var res cleanResult
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrSocketDir, err)
	}
	// The server's socket first: a live server is an error, and then
	// nothing is removed.
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int {
		return cmp.Compare(boolInt(a.Name() != SocketName), boolInt(b.Name() != SocketName))
	})
	for _, ent := range entries {
		name := ent.Name()
		engineSock, _ := filepath.Match(EngineSocketPattern, name)
		if name != SocketName && !engineSock {
			continue
		}
		path := filepath.Join(dir, name)
		if skip != "" && filepath.Clean(skip) == path {
			continue
		}
		st, err := os.Lstat(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return res, fmt.Errorf("socket directory %s: %w", dir, err)
		}
		if st.Mode().Type() != os.ModeSocket {
			log.Debug("not a socket, left alone", "path", path, "type", st.Mode().Type().String())
			continue
		}
		switch err := probe(path); {
		case err == nil && name == SocketName:
			return res, socketInUse(path)
		case err == nil:
			log.Info("engine socket is live, left alone (its engine is still running)", "path", path)
			res.Live = append(res.Live, path)
		case errors.Is(err, syscall.ECONNREFUSED):
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("remove stale socket %s: %w", path, err)
			}
			log.Info("removed stale socket", "path", path)
			res.Removed = append(res.Removed, path)
		case name == SocketName:
			return res, fmt.Errorf("server socket %s: cannot tell whether a server listens on it: %w: remove it if no server runs", path, err)
		default:
			log.Warn("socket left alone: cannot tell whether an engine listens on it", "path", path, "err", err)
		}
	}
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// probe connects to the socket at path and hangs up: nil means that a
// process listens on it.
func probe(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return err
	}
	return c.Close()
}

// inUseError is the error for a live server socket: it names the socket and
// the process that listens on it.
type inUseError struct {
	path, who string
}

// Error names the socket and its process, and says what to do.
func (e *inUseError) Error() string {
	return fmt.Sprintf("%v: %s is served by %s: stop that server first, or give this one another --socket-dir", ErrSocketInUse, e.path, e.who)
}

// Unwrap returns ErrSocketInUse.
func (e *inUseError) Unwrap() error { return ErrSocketInUse }

// socketInUse describes the process that listens on path.
func socketInUse(path string) error {
	return &inUseError{path: path, who: sockowner.Describe(path)}
}
