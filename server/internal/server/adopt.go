package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cc532012/drpc/daemon/sockowner"
	"github.com/cc532012/drpc/server/internal/engine"
)

// adoptTimeout bounds the look-up of the process behind one live engine
// socket.
const adoptTimeout = time.Second

// engineIndex returns N of an engine socket named daos_engine<N>.sock.
func engineIndex(name string) (uint32, bool) {
	digits, ok := strings.CutPrefix(name, "daos_engine")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".sock")
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	return uint32(n), err == nil
}

// adoptEngines hands the registry the engines that were running when the
// server started: the live engine sockets that cleanSocketDir left alone.
// An engine outlives its server when the server crashes or is restarted
// (systemctl restart), and does not notify ready again by itself (DAOS's
// engines do not), so without this the new server would never know it.
// Each socket's name gives the engine's index (daos_engine<N>.sock); its
// rank comes from the configuration, as for a notification; its PID from
// the socket's peer credentials. A name that gives no index, or an index the
// configuration does not list (indexes; empty lists every index), is logged
// and left alone, as notify ready would refuse it. It returns how many
// engines were adopted. Call it once the server serves, so that an engine
// that notifies when it is adopted reaches it.
func adoptEngines(reg *engine.Registry, live []string, indexes []uint32, log *slog.Logger) int {
	n := 0
	for _, path := range live {
		index, ok := engineIndex(filepath.Base(path))
		switch {
		case !ok:
			log.Warn("live engine socket not adopted: its name gives no engine index (want daos_engine<N>.sock)", "path", path)
			continue
		case len(indexes) > 0 && !slices.Contains(indexes, index):
			log.Warn("live engine socket not adopted: the configuration does not list its index (add it under engines)",
				"path", path, "index", index)
			continue
		}
		info := engine.Info{Index: index, Socket: path}
		ctx, cancel := context.WithTimeout(context.Background(), adoptTimeout)
		owner, err := sockowner.Lookup(ctx, path)
		cancel()
		if err != nil {
			log.Info("engine socket to adopt: its process is unknown", "path", path, "err", err)
		} else {
			info.PID = int32(owner.PID)
		}
		adopted, err := reg.Adopt(info)
		if err != nil {
			log.Warn("engine not adopted", "path", path, "index", index, "err", err)
			continue
		}
		if adopted {
			n++
		}
	}
	if len(live) > 0 {
		log.Info("engines found running at start-up", "live_sockets", len(live), "adopted", n)
	}
	return n
}
