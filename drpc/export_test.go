package drpc

import (
	"time"

	"github.com/cc532012/drpc/drpc/internal/hangup"
)

// HangupWatchDelay exposes hangup.WatchDelay to the black-box tests.
const HangupWatchDelay = hangup.WatchDelay

// SetPeerLogInterval sets the interval of the logs that peers cause, for
// the servers made from now on, and returns a function that restores it.
func SetPeerLogInterval(d time.Duration) (restore func()) {
	old := peerLogInterval
	peerLogInterval = d
	return func() { peerLogInterval = old }
}

// ReceiveMemory returns the receive memory srv holds, in all and for uid.
func (srv *DomainSocketServer) ReceiveMemory(uid uint32) (total, byUID int64) {
	return srv.budget.held(uid)
}

// Watching returns how many calls in flight a hang-up watch watches.
func (srv *DomainSocketServer) Watching() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	n := 0
	for s := range srv.sessions {
		if s.hangup.Watching() {
			n++
		}
	}
	return n
}
