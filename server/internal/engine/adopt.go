package engine

import "time"

// Adopt records an engine that the server found running when it started
// (its socket in the socket directory answers) but that has not notified
// this server: the engine outlived the server before it (a crash, or a
// restart). It is Ready from now on, with Adopted set, and watched as a
// notified engine is: its rank is set again (202 is idempotent), then it is
// pinged. info gives its index and socket, and its PID if known (from the
// socket's peer credentials); its URI and incarnation, which only a notify
// ready carries, stay unknown (Notified is zero) until it notifies again.
//
// An index the registry already knows (the engine notified first) is left
// as it is, and Adopt returns false. It returns ErrClosed after Shutdown.
func (r *Registry) Adopt(info Info) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, ErrClosed
	}
	if _, known := r.engines[info.Index]; known {
		return false, nil
	}
	for _, other := range r.engines {
		if other.st.Socket == info.Socket {
			return false, nil
		}
	}
	now := r.opts.Now()
	e := &engine{gen: 1}
	e.st = Status{Info: info, Rank: r.RankOf(info.Index), State: Ready, Since: now, Adopted: true}
	r.engines[info.Index] = e
	r.startMonitor(info.Index, e)
	r.log.Info("engine adopted: it was running when the server started; setting its rank again, then pinging it",
		"index", info.Index, "rank", e.st.Rank, "socket", info.Socket, "pid", info.PID)
	return true, nil
}

// reannounce handles a notify ready from an adopted engine that has not
// notified this server yet, if it comes from the same process (same PID,
// same socket): the engine learnt that a new server watches it and sent
// what only a notification carries. Its URI, incarnation and notification
// time are filled in; its rank, pings and state go on. It reports whether
// it took the notification; if not, Ready starts the engine afresh.
func (r *Registry) reannounce(e *engine, info Info, now time.Time) bool {
	st := &e.st
	if !st.Adopted || !st.Notified.IsZero() || info.PID == 0 || info.PID != st.PID || info.Socket != st.Socket {
		return false
	}
	st.URI, st.Incarnation, st.Notified = info.URI, info.Incarnation, now
	r.log.Info("adopted engine notified ready: its uri and incarnation are known now", "index", info.Index,
		"rank", st.Rank, "pid", info.PID, "incarnation", info.Incarnation, "uri", info.URI)
	return true
}
