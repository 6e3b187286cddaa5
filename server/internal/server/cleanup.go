package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/cc532012/drpc/daemon/host"
	"github.com/cc532012/drpc/daemon/sockowner"
)

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
func cleanSocketDir(ctx context.Context, dir, skip string, log *slog.Logger) (cleanResult, error) {
	var res cleanResult
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("socket directory %s: %w", dir, err)
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
		lookCtx, cancel := context.WithTimeout(ctx, sockowner.Timeout)
		_, err = sockowner.Lookup(lookCtx, path)
		cancel()
		switch {
		case err == nil && name == SocketName:
			return res, host.SocketInUse("server", path, "--socket-dir (socket_dir)")
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
